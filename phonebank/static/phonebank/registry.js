// The public registry's two pieces of script (no inline script anywhere: strict CSP).
// 1. The declaration form's proof of work (ALTCHA v1): find n with SHA-256(salt + n) equal
//    to the server's challenge, then post the solution with the form.
// 2. The receipt check: verify the inclusion proof (RFC 9162) against the signed checkpoint
//    in the browser, and the checkpoint's Ed25519 signature where WebCrypto supports it.
(function () {
  "use strict";

  var enc = new TextEncoder();

  function hex(buffer) {
    var bytes = new Uint8Array(buffer), out = "";
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return out;
  }

  function b64decode(text) {
    var raw = atob(text), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function concat() {
    var total = 0, i;
    for (i = 0; i < arguments.length; i++) total += arguments[i].length;
    var out = new Uint8Array(total), pos = 0;
    for (i = 0; i < arguments.length; i++) { out.set(arguments[i], pos); pos += arguments[i].length; }
    return out;
  }

  function sha256(bytes) {
    return crypto.subtle.digest("SHA-256", bytes).then(function (d) { return new Uint8Array(d); });
  }

  // --- proof of work ------------------------------------------------------------------

  function solve(challenge) {
    var chunk = 500;
    function from(start) {
      var tries = [];
      for (var n = start; n < start + chunk && n <= challenge.maxnumber; n++) {
        tries.push(crypto.subtle.digest("SHA-256", enc.encode(challenge.salt + n)));
      }
      return Promise.all(tries).then(function (digests) {
        for (var i = 0; i < digests.length; i++) {
          if (hex(digests[i]) === challenge.challenge) return start + i;
        }
        if (start + chunk > challenge.maxnumber) return null;
        return from(start + chunk);
      });
    }
    return from(0);
  }

  function setUpForm() {
    var field = document.getElementById("altcha");
    var form = document.getElementById("declare-form");
    var status = document.getElementById("pow-status");
    if (!field || !form) return;
    var challenge = JSON.parse(field.dataset.challenge);
    var submitting = false;
    if (!window.crypto || !crypto.subtle) { status.textContent = status.dataset.failed; return; }
    status.textContent = status.dataset.working;
    var solved = solve(challenge).then(function (number) {
      if (number === null) throw new Error("no solution");
      field.value = btoa(JSON.stringify({
        algorithm: challenge.algorithm, challenge: challenge.challenge, number: number,
        salt: challenge.salt, signature: challenge.signature
      }));
      status.textContent = status.dataset.done;
      form.dataset.solved = "1";
    }).catch(function () { status.textContent = status.dataset.failed; });
    form.addEventListener("submit", function (e) {
      if (field.value || submitting) return;
      e.preventDefault();
      submitting = true;
      solved.then(function () { if (field.value) form.submit(); else submitting = false; });
    });
  }

  // --- inclusion proof ---------------------------------------------------------------

  function node(left, right) { return sha256(concat(new Uint8Array([1]), left, right)); }

  // RFC 9162 section 2.1.3.2: the root an inclusion proof leads to, or null.
  function rootFromProof(leafHash, index, size, proof) {
    if (index >= size) return Promise.resolve(null);
    var fn = index, sn = size - 1, r = Promise.resolve(leafHash);
    for (var i = 0; i < proof.length; i++) {
      if (sn === 0) return Promise.resolve(null);
      var p = proof[i];
      if ((fn & 1) === 1 || fn === sn) {
        r = r.then(node.bind(null, p));
        if ((fn & 1) === 0) { while ((fn & 1) === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
      } else {
        r = r.then(function (p) { return function (h) { return node(h, p); }; }(p));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) return Promise.resolve(null);
    return r;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  // The signed note: text up to the blank line; signature lines "— name base64(id ‖ sig)".
  function checkSignature(noteText, vkey) {
    var cut = noteText.indexOf("\n\n");
    var text = noteText.slice(0, cut + 1);
    // name+hex8+base64: the base64 may itself contain "+", so it is everything after the second.
    var parts = vkey.trim().split("+");
    var keyBytes = b64decode(parts.slice(2).join("+"));
    if (keyBytes[0] !== 1) return Promise.resolve(null);
    var lines = noteText.slice(cut + 2).split("\n");
    var sig = null;
    lines.forEach(function (line) {
      var m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (m && m[1] === parts[0]) {
        var raw = b64decode(m[2]);
        if (hex(raw.slice(0, 4)) === parts[1]) sig = raw.slice(4);
      }
    });
    if (!sig) return Promise.resolve(false);
    return crypto.subtle.importKey("raw", keyBytes.slice(1), {name: "Ed25519"}, false, ["verify"])
      .then(function (key) { return crypto.subtle.verify({name: "Ed25519"}, key, sig, enc.encode(text)); },
            function () { return null; });  // this browser has no Ed25519
  }

  function setUpCheck() {
    var out = document.getElementById("browser-verified");
    if (!out || !out.dataset.proof || !window.crypto || !crypto.subtle) return;
    var data = JSON.parse(out.dataset.proof);
    var lines = data.checkpoint.split("\n");
    var size = Number(lines[1]);
    var root = b64decode(lines[2]);
    var leaf = b64decode(data.leaf);
    sha256(concat(new Uint8Array([0]), leaf))
      .then(function (leafHash) { return rootFromProof(leafHash, data.index, size, data.proof.map(b64decode)); })
      .then(function (computed) {
        if (!computed || !equal(computed, root)) { out.textContent = "✗ " + out.dataset.bad; out.dataset.result = "bad"; return; }
        return checkSignature(data.checkpoint, data.key).then(function (sig) {
          if (sig === false) { out.textContent = "✗ " + out.dataset.bad; out.dataset.result = "bad"; return; }
          out.textContent = "✓ " + out.dataset.ok + " " + (sig ? out.dataset.sigOk : out.dataset.sigNa);
          out.dataset.result = sig ? "ok" : "ok-nosig";
        });
      })
      .catch(function () { out.textContent = "✗ " + out.dataset.bad; out.dataset.result = "bad"; });
  }

  document.addEventListener("DOMContentLoaded", function () { setUpForm(); setUpCheck(); });
})();
