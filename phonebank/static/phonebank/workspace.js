// The caller workspace: keyboard shortcuts, call timer, copy button, objection search,
// callback times in both zones. No inline script anywhere (strict CSP); htmx swaps the
// #workspace panel, so everything here is delegated from document or re-run on swap.
(function () {
  "use strict";

  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function tick() {
    var timer = document.getElementById("call-timer");
    if (timer && timer.dataset.started) {
      var secs = Math.max(0, Math.floor((Date.now() - Date.parse(timer.dataset.started)) / 1000));
      timer.textContent = Math.floor(secs / 60) + ":" + pad(secs % 60);
    }
    var local = document.getElementById("local-time");
    if (local && local.dataset.offset) {
      var t = new Date(Date.now() + Number(local.dataset.offset) * 60000);
      local.textContent = pad(t.getUTCHours()) + ":" + pad(t.getUTCMinutes());
    }
  }

  // A datetime-local value is the contact's wall-clock time; show it in the caller's zone:
  // the one in their profile (data-zone), which the rest of phonebank uses, not the
  // browser's, which may differ (a laptop still on home time); the browser's only if the
  // profile has none.
  function showCallerTime() {
    var input = document.getElementById("callback-local");
    var out = document.getElementById("callback-mine");
    if (!input || !out) return;
    if (!input.value) { out.textContent = "—"; return; }
    var wall = Date.parse(input.value + ":00Z");
    if (isNaN(wall)) { out.textContent = "—"; return; }
    var instant = new Date(wall - Number(input.dataset.offset) * 60000);
    var options = {weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23"};
    if (out.dataset.zone) options.timeZone = out.dataset.zone;
    var lang = document.documentElement.lang || undefined;
    var shown;
    try {
      shown = new Intl.DateTimeFormat(lang, options).format(instant);
    } catch (e) { // a zone or language this browser does not know
      delete options.timeZone;
      shown = new Intl.DateTimeFormat(undefined, options).format(instant);
    }
    out.textContent = shown;
  }

  function quickCallback(kind) {
    var input = document.getElementById("callback-local");
    if (!input) return;
    var now = new Date(Date.now() + Number(input.dataset.offset) * 60000); // contact wall clock, as UTC fields
    var day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    var parts = kind.split("-");
    if (parts[0] === "tomorrow") day = new Date(day.getTime() + 86400000);
    var iso = day.getUTCFullYear() + "-" + pad(day.getUTCMonth() + 1) + "-" + pad(day.getUTCDate()) + "T" + pad(Number(parts[1])) + ":00";
    input.value = iso;
    showCallerTime();
  }

  function filterPlaybook(query) {
    var q = query.trim().toLowerCase();
    var shown = 0;
    document.querySelectorAll(".pb-entry").forEach(function (li) {
      li.hidden = q !== "" && li.dataset.text.indexOf(q) === -1;
      if (!li.hidden) shown += 1;
    });
    var none = document.getElementById("playbook-none");
    if (none) none.hidden = shown !== 0;
  }

  function copyNumber() {
    var button = document.getElementById("copy-number");
    var done = document.getElementById("copy-done");
    if (!button) return;
    var number = button.dataset.number;
    var ok = function () { if (done) done.textContent = done.dataset.ok || "✓"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(number).then(ok, function () {});
    } else {
      var ta = document.createElement("textarea");
      ta.value = number; document.body.appendChild(ta); ta.select();
      try { document.execCommand("copy"); ok(); } catch (e) { /* the number is on screen */ }
      document.body.removeChild(ta);
    }
  }

  function openPanel(id, focusId) {
    var panel = document.getElementById(id);
    if (!panel) return;
    // One form at a time: a callback and a declaration are different outcomes.
    document.querySelectorAll("details.callback, details.declare").forEach(function (d) {
      if (d !== panel) d.open = false;
    });
    panel.open = true;
    var f = document.getElementById(focusId);
    if (f) f.focus();
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    // Enter in a field of the outcome form would submit it with its first button ("no
    // answer"); in the callback or declaration panel it means that panel's own button.
    var field = e.target;
    if (e.key === "Enter" && !e.isComposing && field.tagName === "INPUT" && field.form && field.form.id === "outcome-form") {
      e.preventDefault();
      var panel = field.closest("details");
      var submit = panel && panel.querySelector('button[type="submit"]');
      if (submit) submit.click();
      return;
    }
    if (e.key === "Escape" && typing(document.activeElement)) { document.activeElement.blur(); return; }
    if (typing(document.activeElement)) return;
    var key = e.key;
    if (key === "/") {
      var search = document.getElementById("playbook-search");
      if (search) { e.preventDefault(); search.focus(); }
    } else if (key === "n" || key === "N") {
      var next = document.getElementById("next-contact");
      if (next) { e.preventDefault(); next.click(); }
    } else if (key === "c" || key === "C") {
      copyNumber();
    } else if (key === "t" || key === "T") {
      var notes = document.getElementById("notes");
      if (notes) { e.preventDefault(); notes.focus(); }
    } else if (key === "9") {
      e.preventDefault(); openPanel("callback-panel", "callback-local");
    } else if (key === "0") {
      e.preventDefault(); openPanel("declare-panel", "alias");
    } else if (/^[1-8]$/.test(key)) {
      var button = document.querySelector('button.outcome[data-key="' + key + '"]');
      if (button) { e.preventDefault(); button.click(); }
    }
  });

  document.addEventListener("input", function (e) {
    if (e.target.id === "playbook-search") filterPlaybook(e.target.value);
    if (e.target.id === "callback-local") showCallerTime();
  });

  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target.closest("[data-callback], #copy-number") : null;
    if (!t) return;
    if (t.id === "copy-number") copyNumber();
    else quickCallback(t.dataset.callback);
  });

  // However a panel opens (key or click), the other one closes.
  document.addEventListener("toggle", function (e) {
    var t = e.target;
    if (!t.open || !t.matches || !t.matches("details.callback, details.declare")) return;
    document.querySelectorAll("details.callback, details.declare").forEach(function (d) {
      if (d !== t) d.open = false;
    });
  }, true);

  // htmx focuses [autofocus] when the swap settles; base.html sets the settle delay to 0
  // so that happens before the next key press, never after it (0 right after N would
  // otherwise open the declaration and then lose the focus to "Next contact").
  document.addEventListener("htmx:afterSwap", function () {
    tick(); showCallerTime();
    var next = document.getElementById("next-contact");
    if (next) next.focus();
  });

  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", function () { tick(); showCallerTime(); });
})();
