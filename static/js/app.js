// Blnk Cloud dashboard: the few behaviours htmx does not cover. Every page
// works without this file; it only makes dialogs, copying and the create
// form nicer. No inline scripts anywhere (Content-Security-Policy).
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  var focusable = 'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

  // The element that opened a dialog, to give focus back when it closes.
  var opener = null;
  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail.elt;
    var target = e.detail.target;
    if (elt && target && target.id === "modal-root") {
      opener = elt;
    }
  });

  // finder returns a function that finds el again later, even if htmx
  // replaced it in the meantime (a key's row after a revoke): by its own
  // id, or the id of its nearest ancestor with one and its href.
  function finder(el) {
    if (!el) { return function () { return null; }; }
    var holder = el.closest("[id]");
    var holderID = holder && holder.id;
    var href = el.getAttribute("href");
    return function () {
      if (document.contains(el)) { return el; }
      var h = holderID && document.getElementById(holderID);
      if (!h) { return null; }
      if (h.matches(focusable)) { return h; } // the element had an id of its own
      if (href) {
        var same = Array.prototype.find.call(h.querySelectorAll("a[href]"), function (a) { return a.getAttribute("href") === href; });
        if (same) { return same; }
      }
      return h.querySelector(focusable);
    };
  }

  // focusIn puts the focus on the first control of box, or on box itself.
  function focusIn(box) {
    var target = box.querySelector(focusable);
    if (target) { target.focus(); } else { box.focus(); }
  }

  // A dialog swapped into the page opens as a modal: the browser traps
  // focus inside it and closes it on Esc. Closed dialogs leave the page,
  // and the focus goes back to what opened them (found again if htmx
  // replaced it meanwhile), else into the dialog still open below.
  function openDialogs(root) {
    var dialogs = root.querySelectorAll ? root.querySelectorAll("dialog[data-modal]:not([open])") : [];
    dialogs.forEach(function (d) {
      d.returnFocusTo = finder(opener);
      opener = null;
      d.addEventListener("close", function () {
        var back = d.returnFocusTo && d.returnFocusTo();
        placeToasts(); // out of the dialog before it goes
        d.remove();
        if (back) {
          back.focus();
        } else {
          var open = document.querySelectorAll("dialog[open]");
          if (open.length) { focusIn(open[open.length - 1]); }
        }
      });
      // A click on the backdrop (the dialog box itself, outside its content) closes it.
      d.addEventListener("click", function (e) {
        if (e.target !== d) { return; }
        var r = d.getBoundingClientRect();
        if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) {
          d.close();
        }
      });
      d.showModal();
      placeToasts(); // a toast already showing stays on top
      var focus = initialFocus(d);
      if (focus) { focus.focus(); }
    });
  }

  // initialFocus is where a dialog's focus starts: its [autofocus]
  // element, else its first control; a radio button stands for its group,
  // whose checked choice takes the focus (as Tab would give it), never the
  // first choice of the group, which may be the most destructive one.
  function initialFocus(d) {
    var first = d.querySelector("[autofocus]") || d.querySelector("input:not([type=hidden]), select, textarea, button, a[href]");
    if (first && first.type === "radio" && !first.checked && first.form) {
      var checked = first.form.querySelector('input[type=radio][name="' + first.name + '"]:checked');
      if (checked) { return checked; }
    }
    return first;
  }

  // The keys list: htmx swaps only its results. The control that changed
  // them (a sort header, a tab, a page link) keeps the focus in the new
  // results, or its neighbour when it is gone (Next on the last page);
  // screen readers hear the new count.
  var listFocus = null;
  document.addEventListener("htmx:beforeRequest", function (e) {
    var target = e.detail.target;
    if (!target || target.id !== "keys-results") { return; }
    var active = document.activeElement;
    listFocus = active && target.contains(active) && active.id ? active.id : null;
  });
  var neighbours = { "list-next": ["list-prev", "list-first"], "list-prev": ["list-next", "list-first"], "list-first": ["list-next"] };
  // A key pasted into the list's search is never sent: the search asks
  // for its public prefix, and the box shows that instead (the server
  // does the same for a request that still carries one).
  document.addEventListener("htmx:configRequest", function (e) {
    var q = e.detail.parameters && e.detail.parameters.q;
    if (typeof q !== "string") { return; }
    var m = /blnk_[0-9a-f]{8}[0-9A-Za-z]{10,}/.exec(q);
    if (!m) { return; }
    var prefix = m[0].slice(0, 13);
    e.detail.parameters.q = prefix;
    var box = document.getElementById("key-search");
    if (box) { box.value = prefix; }
  });

  // A list address the server refuses (400) still shows its reason in
  // the results, as it does without JavaScript.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr.status === 400 && e.detail.target && e.detail.target.id === "keys-results") {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    if (!e.detail.target || e.detail.target.id !== "keys-results") { return; }
    var announce = document.getElementById("list-announce");
    var found = document.getElementById("list-found");
    if (announce && found) {
      announce.textContent = found.textContent.replace(/\s+/g, " ").trim();
    }
    if (!listFocus) { return; }
    var ids = [listFocus].concat(neighbours[listFocus] || []);
    listFocus = null;
    for (var i = 0; i < ids.length; i++) {
      var el = document.getElementById(ids[i]);
      if (el) { el.focus(); return; }
    }
    var tab = document.querySelector("#keys-results [aria-current]");
    if (tab) { tab.focus(); }
  });

  // A form that comes back with problems puts the focus on its error
  // summary, which lists them all with links to the fields.
  document.addEventListener("htmx:afterSettle", function (e) {
    if (!e.detail.xhr || e.detail.xhr.status !== 422) { return; }
    var elt = e.detail.elt;
    var summary = (elt && elt.querySelector && elt.querySelector("[data-error-summary]")) || document.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
      return;
    }
    var bad = document.querySelector(".field-invalid input:not([type=hidden]):not([disabled])");
    if (bad) { reveal(bad); }
  });

  // reveal focuses a field and scrolls it into view with its label, clear
  // of a dialog's sticky footer (the dialog's scroll-padding says how tall
  // it is; scrollIntoView honours it).
  function reveal(field) {
    field.focus({ preventScroll: true });
    var label = field.closest("fieldset") ? field.closest("fieldset").querySelector("legend") : null;
    if (field.id) {
      label = document.querySelector('label[for="' + field.id + '"]') || label;
    }
    if (label) { label.scrollIntoView({ block: "nearest" }); }
    field.scrollIntoView({ block: "nearest" });
  }

  // A link of the error summary focuses its field (a plain link would
  // only scroll, and not inside a dialog).
  document.addEventListener("click", function (e) {
    var a = e.target.closest("[data-error-summary] a[data-focus]");
    if (!a) { return; }
    var target = document.getElementById(a.getAttribute("data-focus"));
    if (!target) { return; }
    e.preventDefault();
    if (!target.matches("input, select, textarea")) {
      target = target.querySelector("input:checked:not([disabled])") || target.querySelector("input:not([disabled]):not([type=hidden])") || target;
    }
    reveal(target);
  });

  // A problem goes away as soon as it is fixed. The server still checks
  // everything; this only stops the form from scolding about what is
  // already right. Each field says how to tell (data-fix).
  function isFixed(box, form) {
    var holder = box.hasAttribute("data-fix") ? box : box.querySelector("[data-fix]");
    if (!holder) { return false; }
    var rule = holder.getAttribute("data-fix");
    var v = holder.value;
    switch (rule) {
    case "filled":
      var max = parseInt(holder.getAttribute("maxlength"), 10) || Infinity;
      v = v.trim();
      return v !== "" && Array.from(v).length <= max && !/[\u0000-\u001f\u007f-\u009f]/.test(v);
    case "email":
      return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v.trim());
    case "password":
      var n = Array.from(v).length;
      return n >= (parseInt(holder.getAttribute("minlength"), 10) || 0) && v.trim() !== "";
    case "same":
      var other = document.getElementById(holder.getAttribute("data-same"));
      return v !== "" && other !== null && v === other.value;
    case "scopes":
      return holder.querySelector("input:checked") !== null;
    case "expiry":
      var chosen = form.querySelector('input[name="expires"]:checked');
      if (!chosen) { return false; }
      if (chosen.value !== "date") { return true; }
      var d = form.querySelector('input[name="expires_on"]');
      return !!d && d.value !== "" && (!d.min || d.value >= d.min) && (!d.max || d.value <= d.max);
    }
    return false;
  }

  function clearProblem(box, form) {
    var problem = box.querySelector(".problem");
    var hint = box.querySelector(".hint");
    box.classList.remove("field-invalid");
    // What the problem described, the hint describes again.
    [box].concat(Array.prototype.slice.call(box.querySelectorAll("[aria-invalid], [aria-describedby]"))).forEach(function (el) {
      el.removeAttribute("aria-invalid");
      var ids = (el.getAttribute("aria-describedby") || "").split(/\s+/);
      var at = problem ? ids.indexOf(problem.id) : -1;
      if (at < 0) { return; }
      ids.splice(at, 1, hint ? hint.id : "");
      ids = ids.filter(Boolean);
      if (ids.length) { el.setAttribute("aria-describedby", ids.join(" ")); } else { el.removeAttribute("aria-describedby"); }
    });
    if (hint) { hint.hidden = false; }
    if (problem) { problem.remove(); }
    var named = box.querySelector("[name]");
    var scope = form.closest(".card, dialog") || document;
    var summary = scope.querySelector("[data-error-summary]");
    if (!summary || !named) { return; }
    var item = summary.querySelector('li[data-for="' + named.name + '"]');
    if (item) { item.remove(); }
    var left = summary.querySelectorAll("li").length;
    if (left === 0) {
      summary.remove();
    } else {
      summary.querySelector("h2").textContent = left === 1 ? "There is a problem" : "There are " + left + " problems";
    }
  }

  function checkProblems(e) {
    var form = e.target.closest && e.target.closest("form");
    if (!form) { return; }
    form.querySelectorAll(".field-invalid").forEach(function (box) {
      if (isFixed(box, form)) { clearProblem(box, form); }
    });
  }
  document.addEventListener("input", checkProblems);
  document.addEventListener("change", checkProblems);

  document.addEventListener("htmx:load", function (e) {
    openDialogs(e.detail.elt.parentNode || document);
    initForms(e.detail.elt);
  });

  // Tab and Shift+Tab cycle within an open dialog: a modal dialog makes the
  // page behind it inert, but browsers would still let focus leave for
  // their own toolbar.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Tab") { return; }
    var open = document.querySelectorAll("dialog[open]");
    var d = open[open.length - 1];
    if (!d) { return; }
    var items = Array.prototype.filter.call(d.querySelectorAll(focusable), function (el) {
      return el.offsetParent !== null || el === document.activeElement;
    });
    if (items.length === 0) { return; }
    var first = items[0], last = items[items.length - 1];
    if (e.shiftKey && (document.activeElement === first || !d.contains(document.activeElement))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (document.activeElement === last || !d.contains(document.activeElement))) {
      e.preventDefault();
      first.focus();
    }
  });

  // Links and buttons marked data-close close their dialog; without
  // JavaScript (or outside a dialog) they are plain links.
  document.addEventListener("click", function (e) {
    var t = e.target.closest("[data-close]");
    if (!t) { return; }
    var d = t.closest("dialog");
    if (d) {
      e.preventDefault();
      d.close();
    }
  });

  // A form marked data-dismiss-on-success closes its dialog once the
  // server accepted it (the revoke confirmation).
  document.addEventListener("htmx:afterRequest", function (e) {
    var elt = e.detail.elt;
    if (!e.detail.successful || !elt.hasAttribute || !elt.hasAttribute("data-dismiss-on-success")) { return; }
    var d = elt.closest("dialog");
    if (d) {
      d.returnFocusTo = null; // what opened it is gone: the dialog below gets the focus
      d.close();
    }
  });

  // Toasts show above everything, open dialogs included. A modal dialog
  // sits in the top layer and makes the rest of the page inert (not
  // clickable, hidden from screen readers), so the region moves into the
  // topmost open dialog and shows as a popover, itself in the top layer
  // above that dialog. It moves again when that dialog closes.
  function placeToasts() {
    var box = document.getElementById("toasts");
    if (!box) { return; }
    var open = document.querySelectorAll("dialog[open]");
    var home = open.length ? open[open.length - 1] : document.body;
    if (box.parentNode !== home) { home.appendChild(box); }
    if (typeof box.showPopover !== "function") { return; }
    if (box.matches(":popover-open")) { box.hidePopover(); }
    if (box.children.length) { box.showPopover(); }
  }

  // Errors htmx does not swap (403, 404, 429, 500, network) become a
  // notice. The same sentence is never shown twice at once: a role taken
  // away meets the dialog's live checks and its submit alike.
  // The one showing already stays 6 s from the latest instead.
  function toast(message, kind) {
    var box = document.getElementById("toasts");
    if (!box) { return; }
    var className = "toast" + (kind ? " toast-" + kind : "");
    var t = Array.prototype.find.call(box.children, function (c) {
      return c.className === className && c.textContent === message;
    });
    if (!t) {
      t = document.createElement("div");
      t.className = className;
      t.setAttribute("role", kind === "error" ? "alert" : "status");
      t.textContent = message;
      box.appendChild(t);
      placeToasts();
    }
    clearTimeout(t.toastTimer);
    t.toastTimer = setTimeout(function () {
      t.remove();
      placeToasts();
    }, 6000);
  }
  // errorFragment is the paragraph of an error answered to htmx
  // (views.ErrorFragment), parsed, never inserted: null when the answer
  // is something else (a form back with its problems).
  function errorFragment(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (type.indexOf("text/html") !== 0 || xhr.responseText.indexOf("error-fragment") < 0) { return null; }
    var body = new DOMParser().parseFromString(xhr.responseText, "text/html").body;
    var p = body.firstElementChild;
    return p && p === body.lastElementChild && p.matches("p.error-fragment") ? p : null;
  }
  // serverSentence is what the server said (the role a request needs,
  // why it was refused), as text; "" when it said nothing of its own.
  function serverSentence(xhr) {
    var p = errorFragment(xhr);
    return p && !p.hasAttribute("data-generic") ? p.textContent.replace(/\s+/g, " ").trim() : "";
  }
  // A 409 or 422 is swapped (a form back with its problems), but one
  // that holds only an error's sentence is a notice, not a new form.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var xhr = e.detail.xhr;
    if (xhr.status < 400 || !e.detail.shouldSwap || !errorFragment(xhr)) { return; }
    e.detail.shouldSwap = false;
    toast(serverSentence(xhr) || "The request was refused (" + xhr.status + "). Reload the page and try again.", "error");
  });
  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail.xhr;
    if (xhr.status === 401) {
      window.location.href = "/login";
      return;
    }
    var msg = "Something went wrong (" + xhr.status + "). Please try again.";
    if (xhr.status === 404) { msg = "That key no longer exists, or is not in this workspace."; }
    if (xhr.status === 403) { msg = "The request was refused. Reload the page and try again."; }
    if (xhr.status === 429) { msg = "Too many requests. Wait a moment and try again."; }
    toast(serverSentence(xhr) || msg, "error");
  });
  document.addEventListener("htmx:sendError", function () {
    toast("The server could not be reached. Check your connection and try again.", "error");
  });
  document.addEventListener("toast", function (e) {
    toast(e.detail.value || e.detail.message || "", "");
  });

  // The usage chart: a day hovered or focused says its numbers under the
  // chart (its <title> is the browser's slower tooltip). The days are one
  // Tab stop: arrow keys, Home and End move between them.
  function chartDay(e) {
    return e.target.closest && e.target.closest("[data-chart] .chart-day");
  }
  function readDay(day) {
    var fig = day.closest("[data-chart]");
    var out = fig && fig.querySelector("[data-chart-readout]");
    if (!out) { return; }
    if (!out.hasAttribute("data-default")) { out.setAttribute("data-default", out.textContent); }
    out.textContent = day.getAttribute("data-day") + ".";
  }
  function unreadDay(day) {
    var fig = day.closest("[data-chart]");
    var out = fig && fig.querySelector("[data-chart-readout]");
    if (out && out.hasAttribute("data-default") && fig.querySelector(".chart-day:focus") === null) {
      out.textContent = out.getAttribute("data-default");
    }
  }
  document.addEventListener("mouseover", function (e) { var d = chartDay(e); if (d) { readDay(d); } });
  document.addEventListener("mouseout", function (e) { var d = chartDay(e); if (d) { unreadDay(d); } });
  document.addEventListener("focusin", function (e) { var d = chartDay(e); if (d) { readDay(d); } });
  document.addEventListener("focusout", function (e) {
    var d = chartDay(e);
    if (d) { setTimeout(function () { unreadDay(d); }, 0); }
  });
  document.addEventListener("keydown", function (e) {
    var d = chartDay(e);
    if (!d) { return; }
    var days = Array.prototype.slice.call(d.parentNode.querySelectorAll(".chart-day"));
    var i = days.indexOf(d), next = i;
    switch (e.key) {
    case "ArrowLeft": next = Math.max(0, i - 1); break;
    case "ArrowRight": next = Math.min(days.length - 1, i + 1); break;
    case "Home": next = 0; break;
    case "End": next = days.length - 1; break;
    default: return;
    }
    e.preventDefault();
    d.setAttribute("tabindex", "-1");
    days[next].setAttribute("tabindex", "0");
    days[next].focus();
  });

  // The theme switch of the account menu: the choice shows at once; htmx
  // posts it so the server draws the next pages in it (without JavaScript,
  // the form posts and the page reloads).
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-theme-form] button[name=theme]");
    if (!b) { return; }
    var theme = b.value, root = document.documentElement;
    if (theme === "light" || theme === "dark") {
      root.setAttribute("data-theme", theme);
    } else {
      root.removeAttribute("data-theme");
    }
    var meta = document.querySelector('meta[name="color-scheme"]');
    if (meta) { meta.setAttribute("content", theme === "system" ? "light dark" : theme); }
    b.closest("form").querySelectorAll("button[name=theme]").forEach(function (o) {
      o.setAttribute("aria-pressed", o === b ? "true" : "false");
    });
  });

  // The account menu (a <details>) closes on Esc, giving focus back to its
  // summary, and when focus or a click goes elsewhere.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") { return; }
    var menu = e.target.closest && e.target.closest("details[open]");
    if (!menu || menu.closest("dialog")) { return; }
    e.preventDefault();
    menu.open = false;
    menu.querySelector("summary").focus();
  });
  // The account menu and the rows' action menus: one open at a time,
  // closed when focus or a click goes elsewhere.
  document.addEventListener("click", function (e) {
    document.querySelectorAll("details.user-menu[open], details.row-menu[open]").forEach(function (m) {
      if (!m.contains(e.target)) { m.open = false; }
    });
  });
  document.addEventListener("focusin", function (e) {
    document.querySelectorAll("details.user-menu[open], details.row-menu[open]").forEach(function (m) {
      if (!m.contains(e.target)) { m.open = false; }
    });
  });
  // A row's menu opens with its first item focused, and the arrow keys
  // move between items (Tab and Shift+Tab do too).
  document.addEventListener("toggle", function (e) {
    var m = e.target;
    if (!m.matches || !m.matches("details.row-menu") || !m.open) { return; }
    if (m.querySelector("summary") === document.activeElement) {
      var first = m.querySelector(".menu-item:not([hidden])");
      if (first) { first.focus(); }
    }
  }, true);
  document.addEventListener("keydown", function (e) {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") { return; }
    var m = e.target.closest && e.target.closest("details.row-menu[open]");
    if (!m) { return; }
    var items = Array.prototype.slice.call(m.querySelectorAll(".menu-item:not([hidden])"));
    var at = items.indexOf(e.target);
    e.preventDefault();
    var next = e.key === "ArrowDown" ? (at + 1) % items.length : (at - 1 + items.length) % items.length;
    if (at < 0) { next = 0; }
    items[next].focus();
  });

  // The list's selection: "select all on this page" ticks every row; the
  // bulk bar says how many are selected and is idle while none is.
  function syncSelection() {
    var all = document.getElementById("select-all");
    var boxes = document.querySelectorAll("#keys-results .row-select");
    var n = 0;
    boxes.forEach(function (b) {
      if (b.checked) { n++; }
      var row = b.closest("tr");
      if (row) { row.classList.toggle("row-selected", b.checked); }
    });
    if (all) {
      all.checked = boxes.length > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
    var count = document.getElementById("bulk-count");
    var button = document.getElementById("bulk-revoke");
    if (count) { count.textContent = n === 0 ? "" : n + " selected"; }
    if (button) { button.disabled = n === 0; }
  }
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.id === "select-all") {
      document.querySelectorAll("#keys-results .row-select").forEach(function (b) { b.checked = t.checked; });
    }
    if (t.id === "select-all" || (t.classList && t.classList.contains("row-select"))) { syncSelection(); }
  });
  // The "select all" box names every key of the page (it works so
  // without JavaScript); with it, the rows' boxes say the same.
  document.addEventListener("htmx:configRequest", function (e) {
    if (!e.detail.elt || e.detail.elt.id !== "bulk-form") { return; }
    delete e.detail.parameters.page;
  });
  document.addEventListener("htmx:load", syncSelection);
  syncSelection();

  // Copy buttons of the list: a prefix or an id, said in the button.
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy-text]");
    if (!b || !navigator.clipboard) { return; }
    var text = b.getAttribute("data-copy-text");
    navigator.clipboard.writeText(text).then(function () {
      toast("Copied " + text + " to the clipboard.", "");
      var m = b.closest("details.row-menu");
      if (m) { m.open = false; m.querySelector("summary").focus(); }
    }, function () {
      toast("Could not copy. Select the text and copy it by hand.", "error");
    });
  });

  // The copy buttons of the reveal page: the key, and the usage line.
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy]");
    if (!b) { return; }
    var input = document.getElementById(b.getAttribute("data-copy"));
    var status = document.getElementById(b.getAttribute("data-copy-status") || "copy-status");
    var label = b.querySelector("[data-copy-label]") || b;
    if (!input) { return; }
    function done(ok) {
      label.textContent = ok ? "Copied" : "Copy";
      if (status) {
        status.textContent = ok ? "Copied to the clipboard." : "Could not copy: select the text and copy it by hand.";
      }
      if (ok) { setTimeout(function () { label.textContent = "Copy"; }, 2500); }
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(input.value).then(function () { done(true); }, function () {
        input.select();
        done(false);
      });
    } else {
      input.select();
      done(false);
    }
  });
  document.addEventListener("focusin", function (e) {
    if (e.target.matches && e.target.matches("[data-select-on-focus]")) { e.target.select(); }
  });
  // A field focused before this script ran (autofocus) is selected too.
  if (document.activeElement && document.activeElement.matches("[data-select-on-focus]")) {
    document.activeElement.select();
  }

  function initForms(root) {
    var scope = root.querySelectorAll ? root : document;
    // The copy button needs JavaScript, so it is hidden until now.
    scope.querySelectorAll("[data-copy][hidden], [data-copy-text][hidden]").forEach(function (b) { b.hidden = false; });

    // Scopes: "All permissions" and specific scopes exclude each other.
    scope.querySelectorAll("[data-scopes]:not([data-bound])").forEach(function (box) {
      box.setAttribute("data-bound", "");
      var all = box.querySelector('input[value="*"]');
      var specific = box.querySelectorAll('input:not([value="*"])');
      if (!all) { return; }
      function sync() {
        specific.forEach(function (c) {
          c.disabled = all.checked;
          if (all.checked) { c.checked = false; }
        });
      }
      all.addEventListener("change", sync);
      sync();
    });

    // Expiry: the date field is used only with "A date".
    scope.querySelectorAll("[data-expiry]:not([data-bound])").forEach(function (box) {
      box.setAttribute("data-bound", "");
      var form = box.closest("form");
      var date = form.querySelector(".expiry-date");
      var input = date && date.querySelector("input");
      if (!date) { return; }
      function sync() {
        var chosen = form.querySelector('input[name="expires"]:checked');
        date.hidden = !(chosen && chosen.value === "date");
      }
      box.addEventListener("change", function (e) {
        sync();
        if (e.target.value === "date" && input) { reveal(input); }
      });
      sync();
    });
  }
})();
