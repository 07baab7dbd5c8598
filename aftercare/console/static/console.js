// Refreshes the queue without reloading the page. Patient text is inserted with textContent only.
(function () {
  "use strict";
  var table = document.getElementById("queue");
  if (!table) { return; }
  var body = table.querySelector("tbody");
  function cell(row, text) { var td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }
  function render(items) {
    var rows = [];
    items.forEach(function (e) {
      var tr = document.createElement("tr");
      tr.className = e.disposition;
      var badge = document.createElement("span");
      badge.className = "badge " + e.disposition;
      badge.textContent = e.disposition.replace("_", " ");
      cell(tr, "").appendChild(badge);
      var link = document.createElement("a");
      link.href = "/escalations/" + encodeURIComponent(e.id);
      link.textContent = e.conversation_id;
      cell(tr, "").appendChild(link);
      cell(tr, e.channel);
      cell(tr, e.reasons.join("; "));
      cell(tr, e.protocol_version);
      cell(tr, e.ago).title = e.created_at;
      cell(tr, e.status);
      cell(tr, e.assignee || "");
      rows.push(tr);
    });
    if (!rows.length) {
      var empty = document.createElement("tr");
      empty.className = "empty";
      var td = cell(empty, "Nothing here.");
      td.colSpan = 8;
      rows.push(empty);
    }
    body.replaceChildren.apply(body, rows);
  }
  function refresh() {
    var q = new URLSearchParams({ status: table.dataset.status, from: table.dataset.from, to: table.dataset.to });
    fetch("/api/queue?" + q.toString(), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (r.status === 401) { window.location = "/login"; } return r.json(); })
      .then(function (data) { if (data && data.escalations) { render(data.escalations); } })
      .catch(function () {});
  }
  setInterval(refresh, 4000);
}());
