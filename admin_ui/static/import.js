// The import page: validate and import in the background, a bar advancing file by file (35–200 ms a version),
// then show the report. Plain JavaScript (offline, strict CSP). Without it, or on any failure here, the form
// is posted as usual and the server imports while the browser waits.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form || !window.fetch || !window.FormData) return;
  var bar = document.getElementById("import-bar");
  var note = document.getElementById("import-progress");
  var button = document.getElementById("import-submit");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var busy = false;

  function show(done, total) {
    bar.hidden = false;
    bar.max = Math.max(total, 1);
    bar.value = done;
    note.textContent = form.dataset.msgProgress.replace("{done}", done).replace("{total}", total);
  }

  function json(response) {
    if (response.status !== 200 && response.status !== 202) throw new Error("HTTP " + response.status);
    return response.json();
  }

  function fallback() {
    form.submit(); // the ordinary POST: does not fire "submit" again
  }

  function poll(url) {
    fetch(url, { credentials: "same-origin" }).then(json).then(function (job) {
      show(job.done, job.total);
      if (job.finished) { window.location.assign(job.page); return; }
      window.setTimeout(function () { poll(url); }, 250);
    }).catch(fallback);
  }

  form.addEventListener("submit", function (event) {
    var count = form.querySelector('input[type="file"]').files.length +
                (form.querySelector("textarea").value.trim() ? 1 : 0);
    if (count === 0) return; // the server says what is missing
    event.preventDefault();
    if (busy) return;
    busy = true;
    button.disabled = true;
    note.textContent = form.dataset.msgBusy.replace("{n}", count);
    fetch(form.dataset.jobsUrl, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf }, body: new FormData(form)
    }).then(json).then(function (job) {
      show(job.done, job.total);
      poll(job.poll);
    }).catch(fallback);
  });

  // Back from the report: the browser may restore this page mid-progress.
  window.addEventListener("pageshow", function () {
    busy = false;
    button.disabled = false;
    bar.hidden = true;
  });
})();
