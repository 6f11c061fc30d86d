/* Progressive enhancement only: fills the status box from /healthz and puts this
   server's address into the examples. The page is complete without it. */
(function () {
  "use strict";
  var statusEl = document.getElementById("health-status");
  var dbEl = document.getElementById("health-db");
  var timeEl = document.getElementById("health-time");
  var noteEl = document.getElementById("health-note");

  if (/^https?:$/.test(window.location.protocol)) {
    var bases = document.querySelectorAll(".base");
    for (var i = 0; i < bases.length; i++) bases[i].textContent = window.location.origin;
  }

  function text(v) {
    if (v === undefined || v === null) return "unknown";
    if (typeof v === "object") {
      var s = v.status || v.state || v.driver || v.kind;
      return s ? String(s) : JSON.stringify(v);
    }
    return String(v);
  }

  function show(state, db, good, note) {
    statusEl.textContent = state;
    statusEl.className = "value " + (good ? "ok" : "bad");
    dbEl.textContent = db;
    dbEl.className = "value" + (good ? "" : " bad");
    timeEl.textContent = new Date().toLocaleTimeString();
    noteEl.textContent = note;
  }

  function check() {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", "/healthz", true);
    xhr.timeout = 5000;
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 200 && body) {
        show(text(body.status), text(body.database), true,
             "From GET /healthz; checked again every 15 seconds.");
      } else if (body && body.error) {
        show("HTTP " + xhr.status, text(body.database || body.error.code), false,
             body.error.message || "The service answered with an error.");
      } else {
        show("HTTP " + xhr.status, "unknown", false,
             "kaiden-api did not answer as expected (is it running behind nginx?).");
      }
    };
    xhr.onerror = xhr.ontimeout = function () {
      show("unreachable", "unknown", false, "GET /healthz did not answer.");
    };
    xhr.send();
  }

  check();
  window.setInterval(check, 15000);
})();
