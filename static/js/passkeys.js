// Passkeys: adding one (Settings > Security), signing in with one (the
// sign-in page and its second step) and confirming access with one (the
// sudo form), through the browser's WebAuthn API. The server
// sends the options as JSON with binary values in base64url; the answer
// goes back the same way. Without JavaScript, or in a browser without
// passkeys, the controls stay hidden and a note says why.
(function () {
  "use strict";

  if (!window.PublicKeyCredential || !navigator.credentials) { return; }

  function toBytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toText(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return { type: d.type, id: toBytes(d.id), transports: d.transports };
    });
  }

  // credentialJSON is what the server reads: the credential with its
  // binary values in base64url.
  function credentialJSON(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) { out.response.transports = r.getTransports(); }
    } else {
      out.response.authenticatorData = toText(r.authenticatorData);
      out.response.signature = toText(r.signature);
      if (r.userHandle) { out.response.userHandle = toText(r.userHandle); }
    }
    return JSON.stringify(out);
  }

  // post sends body and returns the JSON answer; an answer that is not
  // OK becomes an Error with the server's sentence.
  function post(url, body, type) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": type, "Accept": "application/json" },
      body: body
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          throw new Error(data.error || "Something went wrong (" + res.status + "). Try again.");
        }
        return data;
      });
    });
  }

  // why says in words why the browser's prompt gave nothing.
  function why(err) {
    if (err && err.name === "NotAllowedError") {
      return "No passkey was used: the request was cancelled or timed out.";
    }
    if (err && err.name === "InvalidStateError") {
      return "This device has a passkey for your account already.";
    }
    return (err && err.message) || "Something went wrong. Try again.";
  }

  function show(box, msg) {
    var p = box.querySelector("[data-passkey-problem]");
    if (p) { p.textContent = msg; }
  }

  function hideNotes(root) {
    root.querySelectorAll("[data-passkey-nojs]").forEach(function (n) { n.hidden = true; });
  }

  // here reports whether this page is at the origin passkeys are made
  // for; if not, it shows the link to that origin instead.
  function here(el) {
    var origin = el.getAttribute("data-origin");
    if (!origin || origin === window.location.origin) { return true; }
    hideNotes(el.parentNode);
    var note = el.parentNode.querySelector("[data-passkey-elsewhere]");
    if (note) { note.hidden = false; }
    return false;
  }

  // once reports whether el is seen for the first time: the script may
  // run again when htmx swaps in a page that includes it.
  function once(el) {
    if (el.hasAttribute("data-passkey-bound")) { return false; }
    el.setAttribute("data-passkey-bound", "");
    return true;
  }

  // assert asks the browser for a passkey to the ceremony of base
  // (base/begin, then base/finish, with ?next= if next) and returns the
  // server's answer to it.
  function assert(base, next) {
    return post(base + "/begin", "", "application/x-www-form-urlencoded").then(function (opts) {
      var pk = opts.publicKey;
      pk.challenge = toBytes(pk.challenge);
      pk.allowCredentials = descriptors(pk.allowCredentials);
      return navigator.credentials.get({ publicKey: pk });
    }).then(function (cred) {
      var url = base + "/finish" + (next ? "?next=" + encodeURIComponent(next) : "");
      return post(url, credentialJSON(cred), "application/json");
    });
  }

  // button runs work when box's [data-passkey-login] is clicked, once at a
  // time, showing its failure in box.
  function button(box, work) {
    var b = box.querySelector("[data-passkey-login]");
    var busy = false;
    b.addEventListener("click", function () {
      if (busy) { return; }
      busy = true;
      show(box, "");
      work().catch(function (err) {
        busy = false;
        show(box, why(err));
        b.focus();
      });
    });
  }

  function bind(root) {
    // Adding a passkey.
    root.querySelectorAll("form[data-passkey-add]").forEach(function (form) {
      if (!once(form)) { return; }
      var base = form.getAttribute("data-passkey-add");
      if (!here(form)) { return; }
      form.hidden = false;
      hideNotes(form.parentNode);
      var busy = false;
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        if (busy) { return; }
        busy = true;
        show(form, "");
        var body = new URLSearchParams(new FormData(form)).toString();
        post(base + "/begin", body, "application/x-www-form-urlencoded").then(function (opts) {
          var pk = opts.publicKey;
          pk.challenge = toBytes(pk.challenge);
          pk.user.id = toBytes(pk.user.id);
          pk.excludeCredentials = descriptors(pk.excludeCredentials);
          return navigator.credentials.create({ publicKey: pk });
        }).then(function (cred) {
          return post(base + "/finish", credentialJSON(cred), "application/json");
        }).then(function (data) {
          window.location.assign(data.redirect);
        }).catch(function (err) {
          busy = false;
          show(form, why(err));
          var input = form.querySelector("input[name=name]");
          if (input) { input.focus(); }
        });
      });
    });

    // Signing in with a passkey.
    root.querySelectorAll("[data-passkey-signin]").forEach(function (box) {
      if (!once(box)) { return; }
      var base = box.getAttribute("data-passkey-signin");
      var next = box.getAttribute("data-next") || "";
      if (!here(box)) { return; }
      box.hidden = false;
      hideNotes(box.parentNode);
      button(box, function () {
        return assert(base, next).then(function (data) {
          window.location.assign(data.redirect);
        });
      });
    });

    // Confirming access (sudo) with a passkey: once it is checked, the
    // session is in sudo mode, and the sudo form is sent as it is.
    root.querySelectorAll("[data-passkey-sudo]").forEach(function (box) {
      if (!once(box)) { return; }
      var base = box.getAttribute("data-passkey-sudo");
      var form = document.getElementById(box.getAttribute("data-form"));
      if (!form || !here(box)) { return; }
      box.hidden = false;
      button(box, function () {
        return assert(base, "").then(function () {
          form.submit();
        });
      });
    });
  }

  bind(document);
  // A page htmx swaps in (the sudo form in place of a page).
  document.addEventListener("htmx:load", function (e) {
    if (e.target && e.target.querySelectorAll) { bind(e.target); }
  });
})();
