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
