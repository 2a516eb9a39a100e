// Confide's one script, written for Confide (no library, nothing from another origin). Every
// core action works without it (forms POST); it adds:
// - live updates: on an inbox event from /api/v1/events (Server-Sent Events), the page is
//   fetched again and its live regions ([data-region]) are swapped in. The new HTML is the
//   server's own escaped rendering, parsed inertly with DOMParser; no text from an event is ever
//   put into the page;
// - a read receipt to WhatsApp when a conversation is opened (POST with the CSRF token);
// - the 24-hour window countdown, the template preview, canned responses by /shortcut,
//   keyboard shortcuts (j/k, r, /, Ctrl+Enter), selects that submit on change.
(function () {
  'use strict';
  document.documentElement.classList.add('js');
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute('content') : '';
  var body = document.body;

  function thread() { return document.getElementById('thread'); }
  function nearBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 80; }
  function toBottom() { var t = thread(); if (t) { t.scrollTop = t.scrollHeight; } }

  // Live regions.
  var pending = null;
  var inFlight = false;
  var again = false;
  function refresh() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    var t = thread();
    var stick = t ? nearBottom(t) : false;
    fetch(location.href, { credentials: 'same-origin', headers: { 'accept': 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var changed = false;
        document.querySelectorAll('[data-region][id]').forEach(function (el) {
          var next = doc.getElementById(el.id);
          if (next && next.innerHTML !== el.innerHTML) {
            var focusedId = el.contains(document.activeElement) && document.activeElement.id;
            el.replaceWith(document.importNode(next, true));
            changed = true;
            if (focusedId) {
              var f = document.getElementById(focusedId);
              if (f) { f.focus(); }
            }
          }
        });
        if (changed) {
          if (stick) { toBottom(); }
          var s = document.getElementById('live-status');
          if (s) { s.textContent = 'Updated'; }
          body.dispatchEvent(new CustomEvent('confide:updated'));
        }
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () {
        inFlight = false;
        if (again) { again = false; schedule(); }
      });
  }
  function schedule() {
    if (pending) { clearTimeout(pending); }
    pending = setTimeout(function () { pending = null; refresh(); }, 120);
  }
  if (body.dataset.live === '1' && window.EventSource && document.querySelector('[data-region]')) {
    var es = new EventSource('/api/v1/events');
    ['message.created', 'message.status', 'conversation.updated', 'note.created', 'resync']
      .forEach(function (name) { es.addEventListener(name, schedule); });
    es.addEventListener('open', function () { body.dataset.liveConnected = '1'; });
  }

  // A read receipt for the open conversation (a state change: never on GET, always with the
  // session's CSRF token).
  var t0 = thread();
  if (t0 && t0.dataset.conversation) {
    toBottom();
    fetch('/api/v1/conversations/' + encodeURIComponent(t0.dataset.conversation) + '/read', {
      method: 'POST', credentials: 'same-origin', headers: { 'x-csrf-token': csrf }
    }).catch(function () {});
  }

  // Selects that submit their form when changed.
  document.addEventListener('change', function (e) {
    var el = e.target;
    if (el.matches && el.matches('select[data-autosubmit]') && el.form) { el.form.submit(); }
  });

  // The template preview: parameters fill the body's {{1}}, {{2}}, ... as text.
  function updatePreview() {
    var p = document.querySelector('[data-preview]');
    if (!p) { return; }
    var text = p.getAttribute('data-body') || '';
    document.querySelectorAll('[data-param]').forEach(function (input) {
      if (input.value) { text = text.split(input.getAttribute('data-param')).join(input.value); }
    });
    p.textContent = text;
  }
  document.addEventListener('input', function (e) {
    if (e.target.matches && e.target.matches('[data-param]')) { updatePreview(); }
  });

  // Canned responses: a click inserts the text; "/shortcut" then Tab expands it.
  function composer() { return document.querySelector('[data-composer]'); }
  function insert(text) {
    var c = composer();
    if (!c) { return; }
    c.value = c.value ? c.value + (/\s$/.test(c.value) ? '' : ' ') + text : text;
    c.focus();
  }
  document.addEventListener('click', function (e) {
    var a = e.target.closest ? e.target.closest('[data-canned]') : null;
    if (!a || !composer()) { return; }
    e.preventDefault();
    insert(a.getAttribute('data-text') || '');
    var d = a.closest('details');
    if (d) { d.open = false; }
  });
  document.addEventListener('keydown', function (e) {
    var c = composer();
    if (e.target === c && e.key === 'Tab' && !e.shiftKey) {
      var before = c.value.slice(0, c.selectionStart);
      var m = before.match(/(^|\s)\/([A-Za-z0-9_-]+)$/);
      if (m) {
        var link = document.querySelector('[data-canned="' + m[2] + '"]');
        if (link) {
          e.preventDefault();
          var start = c.selectionStart - m[2].length - 1;
          c.value = c.value.slice(0, start) + (link.getAttribute('data-text') || '') + c.value.slice(c.selectionStart);
        }
      }
    }
  });

  // Keyboard shortcuts (not while typing).
  document.addEventListener('keydown', function (e) {
    var el = e.target;
    var typing = el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter' && typing && el.form) {
      e.preventDefault();
      if (el.form.reportValidity()) { el.form.submit(); }
      return;
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) {
      if (e.key === 'Escape' && typing) { el.blur(); }
      return;
    }
    if (e.key === 'j' || e.key === 'k') {
      var items = Array.prototype.slice.call(document.querySelectorAll('[data-conv]'));
      if (!items.length) { return; }
      var cur = items.findIndex(function (a) { return a.classList.contains('is-active') || a === document.activeElement; });
      var next = e.key === 'j' ? Math.min(cur + 1, items.length - 1) : Math.max(cur - 1, 0);
      if (cur === -1) { next = 0; }
      items[next].focus();
      if (document.activeElement === items[next] && cur !== -1 && items[cur].classList.contains('is-active')) {
        location.href = items[next].href;
      }
      e.preventDefault();
    } else if (e.key === 'r' || e.key === 'c') {
      var c = composer() || document.querySelector('#template-select');
      if (c) { e.preventDefault(); c.focus(); }
    } else if (e.key === '/') {
      var s = document.querySelector('[data-search]');
      if (s) { e.preventDefault(); s.focus(); }
    }
  });

  // The 24-hour window: counts down, and reloads when it closes (the composer switches to
  // templates).
  function words(ms) {
    var min = Math.floor(ms / 60000);
    if (min < 1) { return 'less than a minute'; }
    if (min < 60) { return min + ' min'; }
    var h = Math.floor(min / 60), m = min % 60;
    return m ? h + ' h ' + m + ' min' : h + ' h';
  }
  function tick() {
    var el = document.querySelector('[data-countdown]');
    if (!el || el.getAttribute('data-open') !== '1') { return; }
    var until = Date.parse(el.getAttribute('data-countdown'));
    if (isNaN(until)) { return; }
    var left = until - Date.now();
    // The server's clock decides; the browser's only refines the label between page loads.
    if (left > 0 && left < 48 * 3600 * 1000) { el.textContent = words(left) + ' left to reply'; }
  }
  setInterval(tick, 30000);
})();
