// The round review page: live progress of a running solve, and a rejection's tested counterfactual on a click.
// Without script the page still works: a "Refresh" link, and a link per rejection to its explanation page.
"use strict";
(function () {
  var POLL_MS = 1000;

  function pollProgress(panel) {
    var url = panel.getAttribute("data-progress-url");
    var bar = panel.querySelector("[data-progress-bar]");
    var percent = panel.querySelector("[data-progress-percent]");
    var message = panel.querySelector("[data-progress-message]");
    if (!bar) { return; }
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (p) {
          bar.value = p.fraction;
          if (percent) { percent.textContent = Math.round(p.fraction * 100) + "%"; }
          if (message) { message.textContent = p.phase + (p.message ? ": " + p.message : ""); }
          if (p.running) { window.setTimeout(tick, POLL_MS); } else { window.location.reload(); }
        })
        // Refused (a Content-Security-Policy without connect-src 'self') or offline: reload the whole page instead.
        .catch(function () { window.setTimeout(function () { window.location.reload(); }, POLL_MS * 3); });
    }
    window.setTimeout(tick, POLL_MS);
  }

  // A counterfactual is solver work (about a second on a 10,000-request round), so it is tested when asked for:
  // a click fills the cell in place; where the page may not fetch, the link opens the explanation page.
  function explainOnClick(link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var cell = link.parentNode;
      cell.classList.add("pending");
      link.textContent = "testing…";
      fetch(link.getAttribute("data-explain"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (e) {
          cell.classList.remove("pending");
          cell.textContent = e.counterfactual || "no single change places it beside the plan as it stands";
        })
        .catch(function () { window.location.assign(link.getAttribute("href")); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.querySelector("[data-progress-url]");
    if (panel) { pollProgress(panel); }
    document.querySelectorAll("a[data-explain]").forEach(explainOnClick);
  });
}());
