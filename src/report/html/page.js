
(function () {
  'use strict';
  var root = document.documentElement;
  // Errors and blocked loads are written into the page, where a test (or a person
  // looking at the page) sees them.
  function report(message) {
    var n = Number(root.getAttribute('data-js-errors') || '0') + 1;
    root.setAttribute('data-js-errors', String(n));
    var log = document.getElementById('js-errors');
    if (log) {
      log.hidden = false;
      log.textContent += message + '\n';
    }
  }
  window.addEventListener('error', function (e) { report('script error: ' + e.message); });
  document.addEventListener('securitypolicyviolation', function (e) {
    report('blocked by the page policy: ' + e.violatedDirective + ' ' + e.blockedURI);
  });

  var data = JSON.parse(document.getElementById('fleet-data').textContent);
  var clusters = data.clusters;
  var table = document.getElementById('clusters');
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var filterBox = document.getElementById('filter');
  var statusBox = document.getElementById('status');
  var shown = document.getElementById('shown');
  var noneShown = document.getElementById('none-shown');
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  // The sort keys of the columns: which field of a cluster's data each sorts by.
  var KEYS = {
    name: 'name', status: 'status_rank', version: 'version', platform: 'platform',
    machinesets: 'machinesets_failing', stubs: 'stubs_rank', certificate: 'certificate_rank',
    skew: 'skew_rank', oldest: 'oldest', age: 'age'
  };
  var GROUPS = ['compliant', 'not_compliant', 'unknown', 'not_audited'];
  var state = { sort: '', dir: 'asc', filter: '', status: '' };

  function index(row) { return Number(row.getAttribute('data-i')); }
  function value(row, key) { return clusters[index(row)][KEYS[key]]; }
  function missing(v) { return v === null || v === undefined || v === ''; }

  // Numeric-aware: numbers as numbers, strings with digits as people count (4.9 < 4.14);
  // unknown values last in either direction; ties keep the report's order.
  function sortRows() {
    var key = state.sort;
    var sign = state.dir === 'desc' ? -1 : 1;
    var sorted = rows.slice().sort(function (ra, rb) {
      if (!key) { return index(ra) - index(rb); }
      var a = value(ra, key);
      var b = value(rb, key);
      var am = missing(a);
      var bm = missing(b);
      if (am || bm) { return am === bm ? index(ra) - index(rb) : (am ? 1 : -1); }
      var c = (typeof a === 'number' && typeof b === 'number') ? a - b
        : collator.compare(String(a), String(b));
      return c === 0 ? index(ra) - index(rb) : sign * c;
    });
    sorted.forEach(function (row) { tbody.appendChild(row); });
    heads.forEach(function (th) {
      var k = th.getAttribute('data-key');
      th.setAttribute('aria-sort', k === key ? (state.dir === 'desc' ? 'descending' : 'ascending') : 'none');
    });
  }

  function filterRows() {
    var q = state.filter.trim().toLowerCase();
    var count = 0;
    rows.forEach(function (row) {
      var c = clusters[index(row)];
      var show = (!q || c.search.indexOf(q) >= 0) && (!state.status || c.group === state.status);
      row.hidden = !show;
      if (show) { count += 1; }
    });
    shown.textContent = count + ' of ' + rows.length + ' cluster(s) shown';
    noneShown.hidden = count > 0;
    root.setAttribute('data-shown', String(count));
  }

  function apply() {
    sortRows();
    filterRows();
  }

  // The state comes from the address: `?filter=…` and `#sort=age&dir=desc&filter=…&status=…`.
  function read() {
    var p = new URLSearchParams(location.search);
    var h = location.hash.slice(1);
    if (h.indexOf('=') >= 0) {
      new URLSearchParams(h).forEach(function (v, k) { p.set(k, v); });
    }
    var sort = p.get('sort');
    state.sort = sort && Object.prototype.hasOwnProperty.call(KEYS, sort) ? sort : '';
    state.dir = p.get('dir') === 'desc' ? 'desc' : 'asc';
    state.filter = p.get('filter') || '';
    state.status = GROUPS.indexOf(p.get('status')) >= 0 ? p.get('status') : '';
    filterBox.value = state.filter;
    statusBox.value = state.status;
  }

  function write() {
    var p = new URLSearchParams();
    if (state.sort) { p.set('sort', state.sort); p.set('dir', state.dir); }
    if (state.filter) { p.set('filter', state.filter); }
    if (state.status) { p.set('status', state.status); }
    var s = p.toString();
    try {
      history.replaceState(null, '', s ? '#' + s : location.pathname + location.search);
    } catch (e) {
      // Some browsers refuse to change the address of a file: page; the page still works.
    }
  }

  heads.forEach(function (th) {
    var button = th.querySelector('button');
    if (!button) { return; }
    button.addEventListener('click', function () {
      var key = th.getAttribute('data-key');
      if (state.sort === key) {
        state.dir = state.dir === 'asc' ? 'desc' : 'asc';
      } else {
        state.sort = key;
        state.dir = 'asc';
      }
      write();
      apply();
    });
  });
  filterBox.addEventListener('input', function () { state.filter = filterBox.value; write(); filterRows(); });
  statusBox.addEventListener('change', function () { state.status = statusBox.value; write(); filterRows(); });
  window.addEventListener('hashchange', function () {
    if (location.hash.indexOf('=') >= 0) { read(); apply(); }
  });

  read();
  apply();
  root.setAttribute('data-ready', 'true');
})();
