// The console's only script: the overview's filter box narrows the rows of the page as you type
// (Enter asks the server, across every page), and end buttons ask before they end an exception.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var filter = document.getElementById("filter");
  var table = document.getElementById("deployments");
  if (filter && table) {
    filter.addEventListener("input", function () {
      var wanted = filter.value.trim().toLowerCase();
      table.querySelectorAll("tbody tr.deployment").forEach(function (row) {
        row.hidden = wanted !== "" && row.textContent.toLowerCase().indexOf(wanted) < 0;
      });
    });
  }
  document.querySelectorAll("form.end").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm("End this exception now?")) {
        event.preventDefault();
      }
    });
  });
});
