// The import page: while the server validates the files (35–200 ms a version), say so and keep the
// button from being pressed twice. Without JavaScript the form works the same, just silently.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form) return;
  form.addEventListener("submit", function () {
    var files = form.querySelector('input[type="file"]').files.length;
    var pasted = form.querySelector("textarea").value.trim() ? 1 : 0;
    var count = files + pasted;
    if (count === 0) return;
    document.getElementById("import-progress").textContent = form.dataset.msgBusy.replace("{n}", count);
    document.getElementById("import-submit").disabled = true;
  });
})();
