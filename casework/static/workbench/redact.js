// The redaction tool: select words of a transcript with the mouse (or keyboard), and their position
// fills the form in the API's unit: Unicode code points of the text, where the browser counts
// UTF-16 units (a character outside the Basic Multilingual Plane, such as an emoji, is one code
// point but two units). The preview applies the service's own marker, "[REDACTED:<category>]",
// to the spans as the service does (casework.redactions.service.derive). Without this script the
// same form takes typed positions.
"use strict";

(function () {
  var form = document.querySelector("form[data-redaction-tool]");
  if (!form) { return; }
  var passage = document.getElementById(form.dataset.passage);
  var source = passage.textContent;
  var points = Array.from(source); // one entry per code point
  var editor = form.querySelector(".span-row[data-editor]");
  var note = form.querySelector("[data-selection-note]");
  var problem = form.querySelector("[data-tool-error]");
  var listBox = document.getElementById("span-list");
  var rows = document.getElementById("span-rows");
  var previewSection = document.getElementById("preview-section");
  var preview = document.getElementById("preview");
  var text = JSON.parse(form.dataset.text || "{}");
  var spans = [];

  function field(row, name) { return row.querySelector("[data-field='" + name + "']"); }

  function isHigh(unit) { return unit >= 0xD800 && unit <= 0xDBFF; }
  function isLow(unit) { return unit >= 0xDC00 && unit <= 0xDFFF; }

  // The code point offset of a UTF-16 offset into the source (a split pair counts as before it).
  function codePointOffset(utf16) {
    var count = 0;
    for (var i = 0; i < utf16; i++) {
      if (isHigh(source.charCodeAt(i)) && i + 1 < source.length && isLow(source.charCodeAt(i + 1))) {
        if (i + 1 >= utf16) { break; } // the pair is cut: the offset stays before it
        i++;
      }
      count++;
    }
    return count;
  }

  // A boundary of the selection as a UTF-16 offset into the passage's text.
  function utf16Offset(container, offset) {
    var range = document.createRange();
    range.selectNodeContents(passage);
    range.setEnd(container, offset);
    return range.toString().length;
  }

  function describe(start, end) {
    return text.selected.replace("%(start)s", start).replace("%(end)s", end) + " “" + points.slice(start, end).join("") + "”";
  }

  function showProblem(message) {
    problem.textContent = message || "";
    problem.hidden = !message;
  }

  function onSelection() {
    var selection = window.getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) { return; }
    var range = selection.getRangeAt(0);
    if (!passage.contains(range.startContainer) || !passage.contains(range.endContainer)) { return; }
    var start = codePointOffset(utf16Offset(range.startContainer, range.startOffset));
    var end = codePointOffset(utf16Offset(range.endContainer, range.endOffset));
    // A selection ending between the two halves of a pair still takes the whole character.
    var endUnits = utf16Offset(range.endContainer, range.endOffset);
    if (endUnits > 0 && endUnits < source.length && isHigh(source.charCodeAt(endUnits - 1))) { end += 1; }
    if (end <= start) { return; }
    field(editor, "start").value = String(start);
    field(editor, "end").value = String(end);
    note.textContent = describe(start, end);
    showProblem("");
  }

  function readRow(row) {
    var start = field(row, "start").value.trim();
    var end = field(row, "end").value.trim();
    var category = field(row, "category").value;
    var basis = field(row, "legal_basis").value.trim();
    if (!start && !end && !category && !basis) { return null; }
    return {start: Number(start), end: Number(end), category: category, legal_basis: basis,
            complete: /^\d+$/.test(start) && /^\d+$/.test(end) && category !== "" && basis !== ""};
  }

  // The spans as the service checks them: inside the text, non-empty, not overlapping; sorted.
  function checked(list) {
    for (var i = 0; i < list.length; i++) {
      var span = list[i];
      if (!span.complete) { return {error: text.incomplete}; }
      if (span.end <= span.start || span.end > points.length) { return {error: text.outside.replace("%(length)s", points.length)}; }
    }
    var sorted = list.slice().sort(function (a, b) { return a.start - b.start || a.end - b.end; });
    for (var j = 1; j < sorted.length; j++) {
      if (sorted[j].start < sorted[j - 1].end) { return {error: text.overlap}; }
    }
    return {spans: sorted};
  }

  function hidden(name, value) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = String(value);
    return input;
  }

  function cell(content) {
    var td = document.createElement("td");
    td.textContent = content;
    return td;
  }

  function categoryName(code) {
    var option = field(editor, "category").querySelector("option[value='" + code + "']");
    return option ? option.textContent : code;
  }

  function renderList() {
    rows.textContent = "";
    spans.forEach(function (span, index) {
      var tr = document.createElement("tr");
      tr.appendChild(cell(span.start + "–" + span.end));
      var snippet = cell(points.slice(span.start, span.end).join(""));
      snippet.setAttribute("dir", "auto");
      tr.appendChild(snippet);
      tr.appendChild(cell(categoryName(span.category)));
      tr.appendChild(cell(span.legal_basis));
      var actions = document.createElement("td");
      var remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = text.remove;
      remove.addEventListener("click", function () { spans.splice(index, 1); renderList(); });
      actions.appendChild(remove);
      ["start", "end", "category", "legal_basis"].forEach(function (name) {
        actions.appendChild(hidden("span_" + name, span[name]));
      });
      tr.appendChild(actions);
      rows.appendChild(tr);
    });
    listBox.hidden = spans.length === 0;
  }

  function addSpan() {
    var span = readRow(editor);
    var result = checked(span ? spans.concat([span]) : []);
    if (!span) { showProblem(text.select); return; }
    if (result.error) { showProblem(result.error); return; }
    spans.push(span);
    spans.sort(function (a, b) { return a.start - b.start; });
    field(editor, "start").value = "";
    field(editor, "end").value = "";
    note.textContent = "";
    showProblem("");
    renderList();
  }

  function showPreview() {
    var current = readRow(editor);
    var all = current ? spans.concat([current]) : spans.slice();
    if (all.length === 0) { showProblem(text.select); return; }
    var result = checked(all);
    if (result.error) { showProblem(result.error); return; }
    showProblem("");
    preview.textContent = "";
    var position = 0;
    result.spans.forEach(function (span) {
      if (span.start > position) { preview.appendChild(document.createTextNode(points.slice(position, span.start).join(""))); }
      var mark = document.createElement("mark");
      mark.className = "redacted";
      mark.textContent = "[REDACTED:" + span.category + "]";
      preview.appendChild(mark);
      position = span.end;
    });
    if (position < points.length) { preview.appendChild(document.createTextNode(points.slice(position).join(""))); }
    previewSection.hidden = false;
  }

  // Spans the server sent back with an error: into the list, their raw rows removed.
  Array.prototype.forEach.call(form.querySelectorAll(".span-row:not([data-editor])"), function (row) {
    var span = readRow(row);
    if (span) { spans.push(span); }
    row.remove();
  });
  renderList();
  Array.prototype.forEach.call(form.querySelectorAll("button[data-command]"), function (button) { button.hidden = false; });
  form.querySelector("[data-command='add-span']").addEventListener("click", addSpan);
  form.querySelector("[data-command='preview']").addEventListener("click", showPreview);
  passage.addEventListener("mouseup", onSelection);
  passage.addEventListener("keyup", onSelection);
  form.addEventListener("input", function () { previewSection.hidden = true; });
  form.addEventListener("submit", function (event) {
    var current = readRow(editor);
    if (spans.length === 0 && !current) {
      event.preventDefault();
      showProblem(text.select);
      return;
    }
    if (!field(editor, "start").value.trim() && !field(editor, "end").value.trim()) {
      // The editor holds only a category and basis kept for the next span: not a span itself.
      ["start", "end", "category", "legal_basis"].forEach(function (name) { field(editor, name).disabled = true; });
    }
  });
})();
