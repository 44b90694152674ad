// Progressive enhancement only: every form works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function isoWithOffset(date) {
    var pad = function (n) { return String(Math.abs(n)).padStart(2, "0"); };
    var offset = -date.getTimezoneOffset();
    var sign = offset >= 0 ? "+" : "-";
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) +
      sign + pad(Math.floor(Math.abs(offset) / 60)) + ":" + pad(Math.abs(offset) % 60);
  }

  // The check records the phone's clock at submit time, with its UTC offset.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-check-form]")) return;
    var field = form.querySelector("[data-observed-at]");
    if (field && !field.value) field.value = isoWithOffset(new Date());
  }, true);
})();
