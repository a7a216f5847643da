// The comparison page: compute in the background with a progress bar, then show the page.
// Plain JavaScript, no library (offline, strict CSP). Without it the form is a plain GET and the server
// computes while the browser waits; on any failure here the script falls back to exactly that.
(function () {
  "use strict";
  var form = document.getElementById("compare-form");
  if (!form || !window.fetch) return;
  var box = document.getElementById("compare-progress");
  var bar = box.querySelector("progress");
  var label = box.querySelector("span");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var busy = false;

  function show(done, total) {
    bar.max = Math.max(total, 1);
    bar.value = done;
    label.textContent = form.dataset.msgProgress.replace("{done}", done).replace("{total}", total);
  }

  function plainSubmit() {
    form.submit(); // does not fire "submit" again: the browser does the ordinary GET
  }

  function json(response) {
    if (!response.ok && response.status !== 202) throw new Error("HTTP " + response.status);
    return response.json();
  }

  function poll(url) {
    fetch(url, { credentials: "same-origin" }).then(json).then(function (job) {
      show(job.done, job.total);
      if (job.error) throw new Error(job.error);
      if (job.finished) { window.location.assign(job.page); return; }
      window.setTimeout(function () { poll(url); }, 250);
    }).catch(fail);
  }

  function fail() {
    label.textContent = form.dataset.msgFailed;
    plainSubmit();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) return;
    busy = true;
    box.hidden = false;
    show(0, 0);
    document.getElementById("compare-button").disabled = true;
    fetch(form.dataset.jobsUrl, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf },
      body: new FormData(form) // the chosen versions (v=…)
    }).then(json).then(function (job) {
      show(job.done, job.total);
      if (job.finished || !job.poll) { window.location.assign(job.page); return; }
      poll(job.poll);
    }).catch(fail);
  });

  // Back from the result page: the browser may restore this page as it was left, mid-progress.
  window.addEventListener("pageshow", function () {
    busy = false;
    box.hidden = true;
    document.getElementById("compare-button").disabled = false;
  });
})();
