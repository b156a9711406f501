// siaprapat board: refreshes the page's live part without a reload, and
// small conveniences. Loaded from /static/ (the page allows no inline script).
(function () {
  'use strict';

  // A changed filter applies at once.
  document.querySelectorAll('select[data-autosubmit]').forEach(function (s) {
    s.addEventListener('change', function () { s.form.submit(); });
  });

  // "Check now" is sent once, however often it is clicked.
  var checkForm = document.getElementById('check-form');
  if (checkForm) {
    checkForm.addEventListener('submit', function () {
      var b = checkForm.querySelector('button');
      if (b) { setTimeout(function () { b.disabled = true; }, 0); }
    });
  }

  var live = document.getElementById('live');
  if (!live || !window.fetch || !window.DOMParser) { return; }
  var stale = document.getElementById('stale');
  var failures = 0;

  function every() {
    var n = parseInt(live.getAttribute('data-interval'), 10);
    return n > 0 ? n : 0;
  }

  function schedule() {
    var n = every();
    if (n > 0) { setTimeout(refresh, Math.min(n * (1 + failures), 60000)); }
  }

  function refresh() {
    if (document.hidden) { schedule(); return; }
    fetch(window.location.href, { headers: { 'X-Board-Live': '1' }, credentials: 'same-origin', cache: 'no-store', redirect: 'manual' })
      .then(function (r) {
        if (r.status === 401 || r.type === 'opaqueredirect') {
          window.location.reload(); // signed out: the page goes to the sign-in form
          return null;
        }
        if (!r.ok) { throw new Error('HTTP ' + r.status); }
        return r.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var next = doc.getElementById('live');
        if (next) {
          live.replaceWith(document.adoptNode(next));
          live = next;
        }
        failures = 0;
        if (stale) { stale.hidden = true; }
        schedule();
      })
      .catch(function () {
        failures++;
        if (stale) { stale.hidden = false; }
        schedule();
      });
  }

  schedule();
})();
