// Exhibit uploads: Uppy's Dashboard with its tus plugin, talking to the API's own tus endpoint.
//
// Everything is read from data- attributes of #exhibit-uploader (the page policy allows no inline
// script): the tus endpoint, the session's CSRF token (sent as X-CSRF-Token on every tus request,
// as the API asks of cookie-authenticated changes), the chunk size, the translated strings.
// tus-js-client remembers each upload's URL in localStorage (keyed by Uppy's file id: name, type,
// size, modification time), so after a reload, adding the same file again resumes it from the
// server's offset (HEAD) instead of starting over.
"use strict";

(function () {
  var root = document.getElementById("exhibit-uploader");
  if (!root || !window.Uppy) {
    return;
  }
  var strings = JSON.parse(root.dataset.strings || "{}");
  var messages = JSON.parse(root.dataset.messages || "{}");
  var kindField = document.getElementById(root.dataset.kindField);
  var status = document.getElementById("upload-status");
  var receipts = document.getElementById("exhibit-receipts");
  var noReceipts = document.getElementById("no-receipts");
  var template = document.getElementById("exhibit-receipt-template");
  var announced = {}; // file id -> last progress step announced (every 10%)
  var uploadingName = "";

  function say(key, values) {
    var text = messages[key] || key;
    Object.keys(values).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(values[name]));
    });
    status.textContent = text;
  }

  // The API's problem detail, when the failed response carried one.
  function problemDetail(response, error) {
    try {
      var body = JSON.parse(response.body.xhr.responseText);
      if (body && body.detail) {
        return body.detail;
      }
    } catch (ignored) {
      // not a problem+json answer: the error's own words below
    }
    return error && error.message ? error.message : "";
  }

  function exhibitIdOf(uploadURL) {
    var found = /\/exhibits\/(\d+)\/upload$/.exec(uploadURL || "");
    return found ? found[1] : null;
  }

  function showReceipt(file, receipt, exhibitId) {
    var shown = template.content.cloneNode(true);
    var fields = shown.querySelectorAll("[data-field]");
    Array.prototype.forEach.call(fields, function (element) {
      var name = element.dataset.field;
      if (name === "filename") {
        element.textContent = file.name;
      } else if (name === "link") {
        element.href = root.dataset.receiptUrl.replace("/0/receipt", "/" + exhibitId + "/receipt");
      } else {
        var value = receipt[name];
        element.textContent = value === undefined || value === null ? "—" : String(value);
      }
    });
    if (noReceipts) {
      noReceipts.hidden = true;
    }
    receipts.appendChild(shown);
  }

  var uppy = new Uppy.Uppy({
    id: "exhibits",
    autoProceed: false,
    restrictions: {maxFileSize: Number(root.dataset.maxSize) || null},
    meta: {kind: kindField.value},
  });

  uppy.use(Uppy.Dashboard, {
    inline: true,
    target: root,
    height: 360,
    width: "100%",
    proudlyDisplayPoweredByUppy: false,
    showProgressDetails: true,
    hidePauseResumeButton: false,
    hideRetryButton: false,
    fileManagerSelectionType: "files",
    locale: {strings: strings},
  });

  uppy.use(Uppy.Tus, {
    endpoint: root.dataset.endpoint,
    headers: {"X-CSRF-Token": root.dataset.csrf},
    chunkSize: Number(root.dataset.chunkSize) || 1048576,
    limit: 1,
    retryDelays: [0, 1000, 3000, 5000],
    // The API refuses unknown Upload-Metadata keys: send the kind and the file's name only (the
    // server judges the media type from the content itself).
    allowedMetaFields: ["kind", "filename"],
    // A finished upload must not be "resumed" by adding the file again: that would be a new exhibit.
    removeFingerprintOnSuccess: true,
    onAfterResponse: function (request, response) {
      if (request.getMethod() === "HEAD" && response.getStatus() === 200) {
        var offset = Number(response.getHeader("Upload-Offset") || 0);
        if (offset > 0) {
          say("resumed", {name: uploadingName, offset: offset});
        }
      }
    },
  });

  // Uppy 6's Dashboard renders a single file as role="listitem" in a container without role="list"
  // (FileList.tsx, the isSingleFile branch): screen readers then announce no list, and axe reports
  // aria-required-parent (critical). No option changes that markup, so give the container its role.
  function repairFileList() {
    Array.prototype.forEach.call(root.querySelectorAll(".uppy-Dashboard-files:not([role])"), function (list) {
      list.setAttribute("role", "list");
    });
  }
  new MutationObserver(repairFileList).observe(root, {childList: true, subtree: true});

  kindField.addEventListener("change", function () {
    uppy.setMeta({kind: kindField.value});
  });

  uppy.on("file-added", function (file) {
    uppy.setFileMeta(file.id, {kind: kindField.value, filename: file.name});
  });

  uppy.on("upload", function (uploadID, files) {
    uploadingName = files && files.length ? files[0].name : "";
  });

  uppy.on("upload-progress", function (file, progress) {
    if (!file || !progress.bytesTotal) {
      return;
    }
    uploadingName = file.name;
    var percent = Math.floor((progress.bytesUploaded / progress.bytesTotal) * 100);
    var step = Math.floor(percent / 10);
    if (announced[file.id] !== step) {
      announced[file.id] = step;
      say("progress", {percent: percent, name: file.name});
    }
  });

  // One file paused (the Dashboard's per-file button), or all (the status bar's "Pause").
  uppy.on("upload-pause", function (file, isPaused) {
    if (file && isPaused) {
      say("paused", {name: file.name});
    }
  });
  uppy.on("pause-all", function () {
    var names = uppy.getFiles().filter(function (file) {
      return !file.progress.uploadComplete;
    }).map(function (file) {
      return file.name;
    });
    say("paused", {name: names.join(", ")});
  });

  uppy.on("upload-success", function (file, response) {
    var exhibitId = exhibitIdOf(response.uploadURL);
    var receipt = {};
    try {
      // The PATCH that completed the upload answers the signed receipt (JSON).
      receipt = JSON.parse(response.body.xhr.responseText) || {};
    } catch (ignored) {
      receipt = {exhibit_id: exhibitId};
    }
    showReceipt(file, receipt, receipt.exhibit_id || exhibitId);
    say("done", {name: file.name});
  });

  uppy.on("upload-error", function (file, error, response) {
    say("failed", {name: file ? file.name : "", reason: problemDetail(response || {}, error)});
  });
})();
