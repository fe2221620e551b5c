// hccstudy's own script: progressive enhancement only (every page works without it).
(function () {
  "use strict";
  // the drop zone of the Files page: dropped files go into the form's file input
  function dropzone(zone) {
    var input = document.getElementById(zone.dataset.input);
    var shown = zone.querySelector("#dropped");
    function list() {
      if (!shown) return;
      var names = [];
      for (var i = 0; i < input.files.length; i++) names.push(input.files[i].name);
      shown.textContent = names.length ? "Selected: " + names.join(", ") : "";
    }
    ["dragenter", "dragover"].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; list(); }
    });
    input.addEventListener("change", list);
  }
  // rows of the validation table open their record (a link in the first cell does it without script)
  function clickableRows(root) {
    root.querySelectorAll("tr[data-href]").forEach(function (tr) {
      tr.addEventListener("click", function (e) {
        if (e.target.closest("a")) return;
        window.location = tr.dataset.href;
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".dropzone").forEach(dropzone);
    clickableRows(document);
  });
  document.addEventListener("htmx:afterSwap", function (e) { clickableRows(e.target); });
})();
