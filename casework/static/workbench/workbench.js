// The workbench's shared behaviour: progressive, never required to read a page.
// No inline handlers anywhere (the page policy forbids them): behaviour attaches here by data- attributes.
"use strict";

// <form data-confirm="Are you sure?">: ask before sending.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// htmx leaves error answers unswapped; a form marked data-swap-errors shows a 422 (the reasons a
// rule refused the input) where its result would have gone.
document.addEventListener("htmx:beforeSwap", function (event) {
  var source = event.detail.requestConfig && event.detail.requestConfig.elt;
  if (event.detail.xhr.status === 422 && source && source.closest && source.closest("[data-swap-errors]")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
