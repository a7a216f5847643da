// A page whose form starts a background job (the comparison, the what-if): compute with a progress bar, then
// show the page. The form names the job's URL (data-jobs-url) and holds a .progress box and a .primary button.
// Plain JavaScript, no library (offline, strict CSP). Without it the form is a plain GET and the server
// computes while the browser waits; on any failure here the script falls back to exactly that.
(function () {
  "use strict";
  var form = document.querySelector("form[data-jobs-url]");
  if (!form || !window.fetch) return;
  var box = form.querySelector(".progress");
  var button = form.querySelector("button.primary");
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
    button.disabled = true;
    fetch(form.dataset.jobsUrl, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf },
      body: new FormData(form) // what the form asks for
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
    button.disabled = false;
  });
})();
