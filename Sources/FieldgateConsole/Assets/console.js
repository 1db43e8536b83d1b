// Fieldgate operator console: live events and small conveniences. Loaded with `defer` from /console/assets; the
// page's Content-Security-Policy forbids inline script and, through Trusted Types, every string-to-HTML sink, so
// everything here builds nodes and sets textContent. Vendor data is never parsed as markup.
"use strict";

(function () {
  function cell(row, text, label, className) {
    const td = document.createElement("td");
    if (label) td.dataset.label = label;
    if (className) td.className = className;
    if (text instanceof Node) td.appendChild(text); else td.textContent = text == null ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  function link(href, text, className) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    if (className) a.className = className;
    return a;
  }

  function badge(status) {
    const span = document.createElement("span");
    span.className = "badge status-" + String(status).replace(/[^a-z_]/g, "");
    span.textContent = status;
    return span;
  }

  function segment(value) {
    return encodeURIComponent(value).replace(/[!'()*]/g, function (c) {
      return "%" + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }

  // The same one-line summary the server writes for an event row.
  function summary(event) {
    const detail = (event.data && event.data.detail) || {};
    const job = event.data && event.data.job;
    const parts = [];
    if (job && job.previousStatus && job.status) parts.push(job.previousStatus + " → " + job.status);
    if (detail.note && typeof detail.note.text === "string") parts.push("Note: " + detail.note.text);
    if (detail.site && typeof detail.site.name === "string") parts.push("Site: " + detail.site.name);
    if (detail.account && typeof detail.account.name === "string") parts.push("Account: " + detail.account.name);
    if (detail.assignee && (detail.assignee.name || detail.assignee.username)) {
      parts.push("Assignee: " + (detail.assignee.name || detail.assignee.username));
    }
    if (detail.attachment) {
      parts.push("Attachment: " + (detail.attachment.filename || detail.attachment.title || detail.attachment.kind || ""));
    }
    const text = parts.join(" · ");
    return text.length > 160 ? text.slice(0, 159) + "…" : text;
  }

  function eventRow(event) {
    const row = document.createElement("tr");
    row.className = "fresh";
    const data = event.data || {};
    const job = data.job;
    cell(row, (data.receivedAt || "").replace("T", " ").replace(/\.\d+Z$/, "Z"), "Received", "mono");
    cell(row, data.vendor + " / " + data.tenant, "Vendor / tenant");
    cell(row, event.type, "Type");
    cell(row, job && job.key ? link("/console/jobs/" + segment(job.key), job.id) : "—", "Job");
    cell(row, job && job.status ? badge(job.status) : "—", "Status");
    cell(row, summary(event), "Summary");
    cell(row, link("/console/events/" + segment(event.id), event.id.slice(0, 12), "id"), "Event");
    return row;
  }

  function liveEvents(body) {
    const status = document.getElementById("live-status");
    const counter = document.getElementById("live-count");
    const job = body.dataset.job || "";
    const types = (body.dataset.eventTypes || "").split(" ").filter(Boolean);
    let received = 0;
    const source = new EventSource(body.dataset.stream);
    function show(state, text) {
      if (!status) return;
      status.className = "live " + state;
      status.lastElementChild.textContent = text;
    }
    source.onopen = function () { show("connected", "Live: new events appear at the top."); };
    source.onerror = function () { show("", "Reconnecting to the live stream…"); };
    function onEvent(message) {
      let event;
      try { event = JSON.parse(message.data); } catch (error) { return; }
      if (job && !(event.data && event.data.job && event.data.job.key === job)) return;
      const empty = document.getElementById("no-events");
      if (empty) empty.remove();
      body.insertBefore(eventRow(event), body.firstChild);
      while (body.rows.length > 500) body.deleteRow(body.rows.length - 1);
      received += 1;
      if (counter) counter.textContent = received + " new since this page loaded";
    }
    types.forEach(function (type) { source.addEventListener(type, onEvent); });
    source.addEventListener("message", onEvent);
  }

  function selectAll(box) {
    box.addEventListener("change", function () {
      document.querySelectorAll("input[type=checkbox][name=id]").forEach(function (item) {
        item.checked = box.checked;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const live = document.getElementById("live-events");
    if (live && typeof EventSource === "function") liveEvents(live);
    const all = document.getElementById("select-all");
    if (all) selectAll(all);
  });
})();
