// The dashboards refresh themselves: htmx swaps #dashboard for a fresh copy every 30
// seconds. What the reader did to the old copy carries over to the new one: the tables
// they opened stay open and each chart keeps its sideways scroll. htmx itself puts the
// keyboard focus back on the element with the same id (each summary has one).
// On a phone a chart is wider than the screen and scrolls sideways (app.css); charts of
// days start at their end, today.
(function () {
  "use strict";

  var open = [], scrolled = [];

  function each(root, selector, fn) {
    Array.prototype.forEach.call(root.querySelectorAll(selector), fn);
  }

  function toEnd(root) {
    each(root, '.chart-box[data-scroll="end"]', function (b) { b.scrollLeft = b.scrollWidth; });
  }

  document.addEventListener("DOMContentLoaded", function () { toEnd(document); });

  document.addEventListener("htmx:beforeSwap", function (e) {
    var old = e.detail.target;
    if (!old || old.id !== "dashboard") return;
    open = []; scrolled = [];
    each(old, "details[id][open]", function (d) { open.push(d.id); });
    each(old, ".chart-box", function (b) { scrolled.push(b.scrollLeft); });
  });

  document.addEventListener("htmx:afterSettle", function () {
    var fresh = document.getElementById("dashboard");
    if (!fresh) return;
    open.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) d.open = true;
    });
    each(fresh, ".chart-box", function (b, i) { if (i < scrolled.length) b.scrollLeft = scrolled[i]; });
    open = []; scrolled = [];
  });
})();
