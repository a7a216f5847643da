// The draft editor: line numbers, live validation by the engine (POST /api/validate), jump to an issue's line.
// Plain JavaScript, no library: the admin runs offline and its CSP allows only scripts from itself.
(function () {
  "use strict";
  var box = document.getElementById("editor");
  if (!box) return;
  var text = document.getElementById("yaml");
  var gutter = document.getElementById("gutter");
  var list = document.getElementById("issues");
  var status = document.getElementById("status");
  var dirtyMark = document.getElementById("dirty");
  var form = document.getElementById("editor-form");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var msg = function (name, n) { return (box.dataset[name] || "").replace("{n}", n); };
  // After a save conflict the text shown is not saved anywhere yet: keep warning until it is.
  var saved = document.querySelector(".conflict") ? null : text.value, errorLines = {}, timer = null, requestNo = 0;

  function lineCount() { return text.value.split("\n").length; }

  function drawGutter() {
    var out = [], n = lineCount();
    for (var i = 1; i <= n; i++) {
      out.push(errorLines[i] ? '<span class="err" title="' + escapeHtml(errorLines[i]) + '">' + i + "</span>" : String(i));
    }
    gutter.innerHTML = out.join("\n") + "\n";
    gutter.scrollTop = text.scrollTop;
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function showIssues(issues) {
    var lines = text.value.split("\n");
    errorLines = {};
    list.innerHTML = "";
    issues.forEach(function (issue) {
      if (issue.line) errorLines[issue.line] = (errorLines[issue.line] ? errorLines[issue.line] + "\n" : "") + issue.message;
      var li = document.createElement("li");
      li.dataset.line = issue.line;
      li.dataset.column = issue.column;
      li.innerHTML = '<span class="loc">' + escapeHtml(msg("msgLine", issue.line)) + "</span> " +
        (issue.path ? "<code>" + escapeHtml(issue.path) + "</code> " : "") + escapeHtml(issue.message) +
        (issue.line ? '<span class="snippet">' + escapeHtml((lines[issue.line - 1] || "").trim()) + "</span>" : "");
      list.appendChild(li);
    });
    status.className = "status " + (issues.length ? "bad" : "ok");
    status.textContent = issues.length ? msg("msgIssues", issues.length) : msg("msgOk");
    drawGutter();
  }

  function validate() {
    var mine = ++requestNo;
    status.className = "status busy";
    status.textContent = msg("msgChecking");
    fetch(box.dataset.validateUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ yaml: text.value, version: Number(box.dataset.version) })
    }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (body) {
      if (mine === requestNo) showIssues(body.issues || []);
    }).catch(function () {
      if (mine === requestNo) { status.className = "status bad"; status.textContent = msg("msgFailed"); }
    });
  }

  function jumpTo(line, column) {
    var lines = text.value.split("\n"), offset = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
    offset += Math.max(0, (column || 1) - 1);
    text.focus();
    text.setSelectionRange(offset, offset);
    text.scrollTop = Math.max(0, (line - 5) * 20);
    drawGutter();
  }

  function markDirty() { dirtyMark.textContent = text.value === saved ? "" : msg("msgUnsaved"); }

  text.addEventListener("input", function () {
    drawGutter();
    markDirty();
    clearTimeout(timer);
    timer = setTimeout(validate, 400);
  });
  text.addEventListener("scroll", function () { gutter.scrollTop = text.scrollTop; });
  text.addEventListener("keydown", function (e) {
    if (e.key === "Tab" && !e.shiftKey) {  // YAML is indented with spaces
      e.preventDefault();
      var s = text.selectionStart;
      text.setRangeText("  ", s, text.selectionEnd, "end");
      text.dispatchEvent(new Event("input"));
    }
    if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); saved = text.value; form.submit(); }
  });
  list.addEventListener("click", function (e) {
    var li = e.target.closest("li");
    if (li && li.dataset.line) jumpTo(Number(li.dataset.line), Number(li.dataset.column));
  });
  form.addEventListener("submit", function () { saved = text.value; });
  window.addEventListener("beforeunload", function (e) {
    if (text.value !== saved) { e.preventDefault(); e.returnValue = ""; }
  });
  // Issues rendered by the server for the saved text: mark their lines now, then validate what is shown.
  list.querySelectorAll("li").forEach(function (li) { errorLines[li.dataset.line] = li.textContent; });
  drawGutter();
  markDirty();
  validate();
})();
