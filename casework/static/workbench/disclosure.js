// The disclosure builder: the check's answer (each item's decision and why) is shown in place,
// refused input included (htmx leaves 4xx answers out by default), and a change to the choices
// clears an answer that no longer matches them, so what is sent is what was checked.
"use strict";

(function () {
  var form = document.querySelector("form[data-disclosure-builder]");
  var result = document.getElementById("preview-result");
  if (!form || !result) { return; }
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (event.detail.target === result && (status === 400 || status === 409 || status === 422)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target !== result) { return; }
    var heading = result.querySelector("h2");
    if (heading) { heading.focus(); }
  });
  form.addEventListener("change", function () { result.textContent = ""; });
})();
