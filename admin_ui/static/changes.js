// The impact section of /versions/<id>/changes (and the backtest of /versions/<id>/backtest, which has the same
// elements): start the background job, show its progress, then put the result in place. Plain JavaScript, no library: the admin runs offline and its CSP allows only its own files.
// Without JavaScript the "计算影响" link computes on the server and reloads the page with the result.
(function () {
  "use strict";
  var body = document.getElementById("impact-body");
  var start = document.getElementById("impact-start");
  if (!body || !start) return; // no earlier version, or the result is already on the page
  var running = document.getElementById("impact-running");
  var bar = document.getElementById("impact-progress");
  var note = document.getElementById("impact-note");
  var msg = body.dataset;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, key) { return key in values ? values[key] : whole; });
  }

  function show(state) {
    if (state.percent !== null) {
      bar.value = state.percent;
      note.textContent = fill(msg.msgProgress, {phase: state.message === "new" ? msg.msgNew : msg.msgOld,
                                                percent: state.percent});
    } else {
      bar.removeAttribute("value"); // an indeterminate bar: nothing counted yet
      note.textContent = state.status === "queued" ? msg.msgQueued : msg.msgSandbox;
    }
  }

  function fail(message) {
    running.hidden = true;
    start.parentNode.hidden = false; // the link still works: it computes on the server
    var error = document.createElement("div");
    error.className = "flash error";
    error.textContent = message;
    body.insertBefore(error, body.firstChild);
  }

  var url = msg.url; // the first request starts (or joins) the job; then its own address is polled

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok && response.status !== 409) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (state) {
        if (state.status === "done") { body.innerHTML = state.html; return; }
        if (state.status === "failed" || state.status === "unavailable") { fail(state.error || msg.msgFailed); return; }
        url = msg.url + (msg.url.indexOf("?") < 0 ? "?" : "&") + "job=" + encodeURIComponent(state.id);
        show(state);
        window.setTimeout(poll, 400);
      })
      .catch(function () { fail(msg.msgFailed); });
  }

  start.parentNode.hidden = true;
  running.hidden = false;
  note.textContent = msg.msgQueued;
  poll();
})();
