'use strict';
(function () {
  var me = null;
  var timers = [];
  var history = [];

  // 2026-12-02T03:25:25.760000Z -> 2026-12-02 03:25:25 UTC
  function when(iso) {
    if (!iso) return iso;
    return String(iso).replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
  }

  function h(tag, attrs) {
    var node = document.createElement(tag);
    var a = attrs || {};
    Object.keys(a).forEach(function (k) {
      if (k === 'text') node.textContent = a[k];
      else if (k === 'on') Object.keys(a.on).forEach(function (e) { node.addEventListener(e, a.on[e]); });
      else if (a[k] !== null && a[k] !== undefined && a[k] !== false) node.setAttribute(k, a[k] === true ? '' : a[k]);
    });
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
  function $(id) { return document.getElementById(id); }
  function show(node) {
    var main = $('main');
    main.textContent = '';
    append(main, node);
  }
  function clearTimers() { timers.forEach(clearTimeout); timers = []; }
  function later(fn, ms) { timers.push(setTimeout(fn, ms)); }

  function ApiError(status, message, fields) { this.status = status; this.message = message; this.fields = fields; }

  function messageOf(status, body) {
    if (body && typeof body.detail === 'string') return body.detail;
    if (Array.isArray(body)) return body.join(' ');
    if (body && typeof body === 'object') {
      return Object.keys(body).map(function (k) {
        var v = body[k];
        return (k === 'non_field_errors' ? '' : k + ': ') + (Array.isArray(v) ? v.join(' ') : String(v));
      }).join(' ');
    }
    return 'The server answered ' + status + '.';
  }

  function api(method, path, body) {
    var headers = { 'Accept': 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method === 'POST' && me) headers['X-CSRF-Token'] = me.csrf;
    return fetch('api/' + path, {
      method: method, headers: headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
        if (response.status === 503) { redisDown(messageOf(503, parsed)); throw new ApiError(503, messageOf(503, parsed)); }
        redisUp();
        if (response.status === 401 && path !== 'session') { me = null; signIn(messageOf(401, parsed)); throw new ApiError(401, 'signed out'); }
        if (!response.ok) throw new ApiError(response.status, messageOf(response.status, parsed), parsed);
        return parsed;
      });
    }, function () {
      redisDown('The console cannot reach durin.');
      throw new ApiError(0, 'The console cannot reach durin.');
    });
  }

  var down = false;
  function redisDown(text) {
    down = true;
    var banner = $('banner');
    banner.textContent = text + ' Retrying every 2 seconds; the page comes back by itself.';
    banner.hidden = false;
    later(route, 2000);
  }
  function redisUp() {
    if (!down) return;
    down = false;
    $('banner').hidden = true;
  }

  function note(text, kind) { return h('p', { 'class': 'message ' + (kind || 'error'), role: kind === 'ok' ? 'status' : 'alert', text: text }); }
  function failed(where) {
    return function (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 503 || error.status === 0)) return;
      var target = where || $('main');
      target.insertBefore(note(error.message || String(error)), target.firstChild);
    };
  }
  function table(headings, rows) {
    return h('div', { 'class': 'table-wrap' }, h('table', null,
      h('thead', null, h('tr', null, headings.map(function (t) { return h('th', { scope: 'col', text: t }); }))),
      h('tbody', null, rows)));
  }
  function cell(value, cls) { return h('td', { 'class': cls || null, text: value === null || value === undefined ? '—' : String(value) }); }
  function field(label, name, value, type) {
    return h('label', null, label, h('input', { name: name, value: value || '', type: type || 'text', autocomplete: 'off' }));
  }
  function formValues(form) {
    var values = {};
    Array.prototype.forEach.call(form.elements, function (e) { if (e.name) values[e.name] = e.type === 'checkbox' ? e.checked : e.value; });
    return values;
  }

  // Sign-in

  function signIn(reason) {
    clearTimers();
    $('nav').hidden = true;
    $('who').textContent = '';
    var form = h('form', { novalidate: true },
      field('Username', 'username', '', 'text'),
      field('Password', 'password', '', 'password'),
      field('One-time code (if you have a second factor)', 'otp', '', 'text'),
      h('button', { type: 'submit', text: 'Sign in' }));
    form.elements.username.setAttribute('autocomplete', 'username');
    form.elements.password.setAttribute('autocomplete', 'current-password');
    form.elements.otp.setAttribute('autocomplete', 'one-time-code');
    form.elements.otp.setAttribute('inputmode', 'numeric');
    var box = h('section', { 'class': 'signin', 'aria-labelledby': 'signin-title' },
      h('h2', { id: 'signin-title', text: 'Sign in' }),
      h('p', { 'class': 'muted', text: 'Staff users only.' }),
      reason && reason !== 'Authentication credentials were not provided.' ? note(reason) : null,
      form);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var values = formValues(form);
      var credentials = { username: values.username, password: values.password };
      if (values.otp) credentials.otp = values.otp;
      api('POST', 'session', credentials).then(function (answer) {
        me = { user: answer.user, csrf: answer.csrf };
        signedIn();
        if (!location.hash || location.hash === '#/signin') location.hash = '#/overview'; else route();
      }, failed(box));
    });
    show(box);
    form.elements.username.focus();
  }

  function signedIn() {
    $('nav').hidden = false;
    var out = h('button', { type: 'button', 'class': 'secondary', text: 'Sign out' });
    out.addEventListener('click', function () {
      api('POST', 'session/end', {}).then(function () { me = null; signIn(); }, failed());
    });
    var who = $('who');
    who.textContent = '';
    append(who, [h('span', { text: 'Signed in as ' + me.user }), out]);
  }

  // Pages

  function sparkline(values) {
    var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 100 30');
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'per minute: ' + values.map(function (v) { return Math.round(v); }).join(', '));
    if (values.length > 1) {
      var max = Math.max.apply(null, values.concat([1]));
      var points = values.map(function (v, i) {
        return (i * 100 / (values.length - 1)).toFixed(1) + ',' + (29 - v * 28 / max).toFixed(1);
      }).join(' ');
      var line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
      line.setAttribute('points', points);
      svg.appendChild(line);
    }
    return svg;
  }

  function rates(key) {
    var out = [];
    for (var i = 1; i < history.length; i++) {
      var dt = (history[i].time - history[i - 1].time) / 60000;
      out.push(dt > 0 ? Math.max(0, history[i].counters[key] - history[i - 1].counters[key]) / dt : 0);
    }
    return out;
  }

  function overview() {
    api('GET', 'overview').then(function (data) {
      if (data.counters) history = (data.history || []).concat([{ time: data.time, counters: data.counters }]);
      var cards = h('div', { 'class': 'cards' });
      if (data.counters) {
        [['checks', 'Checks per minute'], ['logins', 'Logins per minute'], ['login_failures', 'Failed logins per minute']].forEach(function (pair) {
          var r = rates(pair[0]);
          append(cards, h('section', { 'class': 'card', 'aria-label': pair[1] },
            h('div', { 'class': 'muted', text: pair[1] }),
            h('div', { 'class': 'value', text: r.length ? String(Math.round(r[r.length - 1])) : '…' }),
            sparkline(r)));
        });
        var c = data.counters;
        var looked = c.cache_hits + c.cache_misses;
        append(cards, h('section', { 'class': 'card', 'aria-label': 'Cache hit rate' },
          h('div', { 'class': 'muted', text: 'Cache hit rate' }),
          h('div', { 'class': 'value', text: looked ? Math.round(100 * c.cache_hits / looked) + ' %' : '—' }),
          h('div', { 'class': 'muted', text: looked + ' cached checks since this responder started' })));
      } else {
        append(cards, h('p', { 'class': 'muted', text: 'Metrics are off (DURIN_METRICS).' }));
      }
      var redis = data.redis || {};
      var redisPart = redis.available ? h('dl', null,
        h('dt', { text: 'Memory used' }), h('dd', { text: redis.used_memory_human || '—' }),
        h('dt', { text: 'Memory limit' }), h('dd', { text: (redis.maxmemory === '0' ? 'none' : (redis.maxmemory_human || '—')) + ' (' + (redis.maxmemory_policy || '?') + ')' }),
        h('dt', { text: 'Append-only file' }), h('dd', { text: redis.aof_enabled === '1' ? 'on, last write ' + (redis.aof_last_write_status || '?') : 'off' }),
        h('dt', { text: 'Last snapshot' }), h('dd', { text: (redis.rdb_last_bgsave_status || '?') + ', ' + (redis.rdb_changes_since_last_save || '0') + ' changes since' })
      ) : note('Redis details unavailable: ' + (redis.problem || 'unknown'));
      var tokens = data.tokens || { by_client: {} };
      var rows = Object.keys(tokens.by_client).map(function (name) {
        return h('tr', null, cell(name), cell(tokens.by_client[name]));
      });
      show([
        h('h2', { text: 'Overview' }), cards,
        h('h3', { text: 'Live tokens by client' }),
        h('p', { 'class': 'muted', text: tokens.counted_at ? 'About, counted at ' + when(tokens.counted_at) + (tokens.counting ? ' (counting again…)' : '') : 'Counting…' }),
        table(['Client', 'Tokens'], rows),
        h('h3', { text: 'Redis' }), redisPart
      ]);
      later(overview, 5000);
    }, failed());
  }

  function users(prefix) {
    var form = h('form', { 'class': 'inline', role: 'search' },
      h('label', null, 'Username starts with', h('input', { name: 'prefix', value: prefix || '', type: 'search', autocomplete: 'off' })),
      h('button', { type: 'submit', text: 'Search' }));
    var results = h('div', { 'aria-live': 'polite' });
    function search() {
      var p = form.elements.prefix.value;
      api('GET', 'users?prefix=' + encodeURIComponent(p) + '&limit=50').then(function (list) {
        results.textContent = '';
        append(results, list.length ? table(['Username', 'Active', 'Staff'], list.map(function (u) {
          return h('tr', null,
            h('td', null, h('a', { href: '#/users/' + encodeURIComponent(u.username), text: u.username })),
            cell(u.is_active ? 'yes' : 'no'), cell(u.is_staff ? 'yes' : 'no'));
        })) : h('p', { 'class': 'muted', text: 'No user starts with that.' }));
      }, failed(results));
    }
    form.addEventListener('submit', function (event) { event.preventDefault(); search(); });
    var pending = null;
    form.elements.prefix.addEventListener('input', function () { clearTimeout(pending); pending = setTimeout(search, 250); });
    show([h('h2', { text: 'Users' }), form, results]);
    form.elements.prefix.focus();
    search();
  }

  function user(name) {
    api('GET', 'users/' + encodeURIComponent(name)).then(function (u) {
      var status = h('div', { role: 'status' });
      function act(action, body, done) {
        api('POST', 'users/' + encodeURIComponent(name) + '/' + action, body).then(function (answer) {
          user(name);
          if (done) later(function () { append($('main'), note(done(answer), 'ok')); }, 0);
        }, failed(status));
      }
      var toggle = h('button', { type: 'button', 'class': u.is_active ? 'danger' : '', text: u.is_active ? 'Deactivate' : 'Activate' });
      toggle.addEventListener('click', function () {
        if (!u.is_active || confirm('Deactivate ' + name + '? Their tokens stop working until they are activated again.')) {
          act('active', { active: !u.is_active });
        }
      });
      var revokeAll = h('button', { type: 'button', 'class': 'danger', text: 'Revoke all sessions' });
      revokeAll.addEventListener('click', function () {
        if (confirm('Revoke every session of ' + name + '?')) act('revoke', {}, function (a) { return a.revoked + ' revoked.'; });
      });
      // A new password (the policy applies; the user's sessions end), and/or a new
      // one required at the next login.
      var password = h('form', { 'class': 'inline', 'aria-label': 'Set a password' },
        h('label', null, 'New password', h('input', { name: 'password', type: 'password', autocomplete: 'new-password' })),
        h('label', null, h('input', { name: 'require_change', type: 'checkbox' }), ' must change it at next login'),
        h('button', { type: 'submit', text: 'Set password' }));
      password.addEventListener('submit', function (event) {
        event.preventDefault();
        var body = { password: password.elements.password.value, require_change: password.elements.require_change.checked };
        act('password', body, function (a) { return 'Password set; ' + a.revoked + ' sessions revoked.'; });
      });
      var requireChange = h('button', { type: 'button', 'class': 'secondary', text: 'Require a new password' });
      requireChange.addEventListener('click', function () {
        act('password', { require_change: true }, function () { return name + ' must choose a new password at next login.'; });
      });
      // A second factor: a new secret shown once (a QR code to scan, its otpauth://
      // URI and the base32 secret), or none.
      var totp = h('button', { type: 'button', 'class': u.otp ? 'danger' : 'secondary', text: u.otp ? 'Remove second factor' : 'Enrol a second factor' });
      totp.addEventListener('click', function () {
        if (u.otp) {
          if (confirm('Remove the second factor of ' + name + '?')) act('otp', { action: 'remove' }, function () { return 'Second factor removed.'; });
          return;
        }
        if (!confirm('Give ' + name + ' a new TOTP secret? It is shown once, to hand to them.')) return;
        api('POST', 'users/' + encodeURIComponent(name) + '/otp', { action: 'enroll' }).then(function (a) {
          user(name);
          later(function () {
            var main = $('main');
            main.insertBefore(h('section', { 'class': 'message ok', role: 'status' },
              h('p', { text: 'Shown this once: scan it with the authenticator app, or type the secret.' }),
              qr(a.qr, a.otpauth_url), h('p', null, h('code', { 'class': 'key', text: a.otpauth_url })),
              h('p', null, 'Secret: ', h('code', { 'class': 'key', text: a.secret }))), main.children[1] || null);
          }, 0);
        }, failed(status));
      });
      var rows = u.sessions.map(function (s) {
        var revoke = h('button', { type: 'button', 'class': 'secondary', text: 'Revoke', 'aria-label': 'Revoke session ' + s.id });
        revoke.addEventListener('click', function () { act('revoke', { id: s.id }); });
        return h('tr', null, cell(s.id), cell(s.client), cell(s.label), cell(when(s.last_used)), cell(s.idle_timeout || 'none'),
          cell(s.address), cell(s.user_agent, 'agent'), cell(when(s.created)), cell(s.expiry ? when(s.expiry) : 'never'), h('td', null, revoke));
      });
      var profile = h('dl', null,
        h('dt', { text: 'Active' }), h('dd', { text: u.is_active ? 'yes' : 'no' }),
        h('dt', { text: 'Joined' }), h('dd', { text: when(u.created) || '—' }),
        h('dt', { text: 'Staff' }), h('dd', { text: u.is_staff ? 'yes' : 'no' }),
        h('dt', { text: 'Must change password' }), h('dd', { text: u.must_change_password ? 'yes' : 'no' }),
        h('dt', { text: 'Second factor' }), h('dd', { text: u.otp ? 'TOTP' : 'none' }),
        Object.keys(u.profile).map(function (k) { return [h('dt', { text: k }), h('dd', { text: u.profile[k] })]; }));
      show([
        h('p', null, h('a', { href: '#/users', text: '← Users' })),
        h('h2', { text: u.username }), status, profile,
        h('p', { 'class': 'inline' }, toggle, ' ', revokeAll, ' ', requireChange, ' ', totp),
        h('h3', { text: 'Password' }), password,
        h('h3', { text: 'Sessions (' + u.sessions.length + ')' }),
        u.sessions.length ? table(['Id', 'Client', 'Label', 'Last used', 'Idle timeout', 'Address', 'User agent', 'Created', 'Expires', ''], rows)
          : h('p', { 'class': 'muted', text: 'No live sessions.' })
      ]);
    }, failed());
  }

  // A QR code from its rows of modules ('1' dark), drawn as one SVG path with the
  // four-module quiet zone: nothing is loaded, and no inline style is needed.
  function qr(rows, label) {
    if (!rows || !rows.length) return null;
    var n = rows.length, d = '';
    rows.forEach(function (row, y) {
      for (var x = 0; x < row.length; x++) if (row[x] === '1') d += 'M' + (x + 4) + ' ' + (y + 4) + 'h1v1h-1z';
    });
    var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 ' + (n + 8) + ' ' + (n + 8));
    svg.setAttribute('width', String((n + 8) * 4));
    svg.setAttribute('height', String((n + 8) * 4));
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'QR code of ' + label);
    svg.setAttribute('shape-rendering', 'crispEdges');
    var back = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
    back.setAttribute('width', String(n + 8));
    back.setAttribute('height', String(n + 8));
    back.setAttribute('fill', '#fff');
    var path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    path.setAttribute('d', d);
    path.setAttribute('fill', '#000');
    svg.appendChild(back);
    svg.appendChild(path);
    return h('p', null, svg);
  }

  // A client's switches: browsers (cookie), rotation on refresh and its grace, a second factor.
  function flags(c) {
    function box(label, name, on) {
      var input = h('input', { name: name, type: 'checkbox' });
      input.checked = !!on;
      return h('label', null, input, ' ' + label);
    }
    return [box('cookie', 'cookie', c.cookie), box('rotate on refresh', 'rotate_on_refresh', c.rotate_on_refresh),
      field('Reuse grace', 'reuse_grace', c.reuse_grace || ''), box('require OTP', 'require_otp', c.require_otp)];
  }

  function clients() {
    api('GET', 'clients').then(function (list) {
      var status = h('div', { role: 'status' });
      var add = h('form', { 'class': 'inline', 'aria-label': 'Add a client' },
        field('Name', 'name'), field('Token TTL', 'token_ttl', '1d'), field('Throttle', 'throttle_rate'), field('Idle timeout', 'idle_timeout'),
        flags({}), h('button', { type: 'submit', text: 'Add client' }));
      add.addEventListener('submit', function (event) {
        event.preventDefault();
        api('POST', 'clients', formValues(add)).then(clients, failed(status));
      });
      var rows = list.map(function (c) {
        var edit = h('form', { 'class': 'inline', 'aria-label': 'Edit ' + c.name },
          field('TTL', 'token_ttl', c.token_ttl), field('Throttle', 'throttle_rate', c.throttle_rate || ''),
          field('Idle timeout', 'idle_timeout', c.idle_timeout || ''), flags(c),
          h('button', { type: 'submit', 'class': 'secondary', text: 'Save' }));
        edit.addEventListener('submit', function (event) {
          event.preventDefault();
          api('POST', 'clients/' + encodeURIComponent(c.name), formValues(edit)).then(clients, failed(status));
        });
        var remove = h('button', { type: 'button', 'class': 'danger', text: 'Remove', 'aria-label': 'Remove ' + c.name });
        remove.addEventListener('click', function () {
          var count = c.tokens === null ? 'an uncounted number of' : 'about ' + c.tokens;
          if (confirm('Remove client ' + c.name + '? This revokes ' + count + ' tokens' + (c.counted_at ? ' (counted at ' + when(c.counted_at) + ')' : '') + '.')) {
            api('POST', 'clients/' + encodeURIComponent(c.name) + '/remove', {}).then(clients, failed(status));
          }
        });
        return h('tr', null, cell(c.name), cell(c.tokens === null ? '…' : c.tokens), h('td', null, edit), h('td', null, remove));
      });
      show([h('h2', { text: 'Clients' }), status, add, table(['Name', 'Tokens (about)', 'Settings', ''], rows)]);
    }, failed());
  }

  function issuers() {
    api('GET', 'issuers').then(function (list) {
      var status = h('div', { role: 'status' });
      var add = h('form', { 'class': 'inline', 'aria-label': 'Add an issuer' },
        field('Name', 'name'), field('Clients (comma-separated, empty: any)', 'clients'),
        field('Rights (issue, introspect, revoke, users, staff)', 'may', 'issue,introspect,revoke'),
        h('button', { type: 'submit', text: 'Add issuer' }));
      add.addEventListener('submit', function (event) {
        event.preventDefault();
        api('POST', 'issuers', formValues(add)).then(function (answer) {
          issuers();
          later(function () {
            var main = $('main');
            main.insertBefore(h('section', { 'class': 'message ok', role: 'status' },
              h('p', { text: 'Issuer ' + answer.name + ' added. Its key, shown this once:' }),
              h('code', { 'class': 'key', text: answer.key })), main.children[1] || null);
          }, 0);
        }, failed(status));
      });
      var rows = list.map(function (i) {
        var remove = h('button', { type: 'button', 'class': 'danger', text: 'Remove', 'aria-label': 'Remove ' + i.name });
        remove.addEventListener('click', function () {
          if (confirm('Remove issuer ' + i.name + '? Its key stops working.')) {
            api('POST', 'issuers/' + encodeURIComponent(i.name) + '/remove', {}).then(issuers, failed(status));
          }
        });
        return h('tr', null, cell(i.name), cell(i.clients.length ? i.clients.join(', ') : 'any'), cell(i.may.join(', ')), h('td', null, remove));
      });
      show([h('h2', { text: 'Issuers' }), status, add, list.length ? table(['Name', 'Clients', 'Rights', ''], rows) : h('p', { 'class': 'muted', text: 'No issuers.' })]);
    }, failed());
  }

  function events(filter) {
    filter = filter || { user: '', type: '' };
    var form = h('form', { 'class': 'inline', role: 'search', 'aria-label': 'Filter events' },
      field('User', 'user', filter.user), field('Type', 'type', filter.type), h('button', { type: 'submit', text: 'Filter' }));
    var list = h('div', { 'aria-live': 'off' });
    function load() {
      var q = 'events?limit=100&user=' + encodeURIComponent(filter.user) + '&type=' + encodeURIComponent(filter.type);
      api('GET', q).then(function (items) {
        list.textContent = '';
        append(list, table(['Time', 'Type', 'User', 'Client', 'Session', 'Reason'], items.map(function (e) {
          return h('tr', null, cell(when(new Date(Number(e.time)).toISOString())), cell(e.type), cell(e.user), cell(e.client), cell(e.session), cell(e.reason || e.issuer));
        })));
        later(load, 5000);
      }, failed(list));
    }
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      clearTimers();
      filter = formValues(form);
      load();
    });
    show([h('h2', { text: 'Events' }), h('p', { 'class': 'muted', text: 'The latest first; refreshed every 5 seconds.' }), form, list]);
    load();
  }

  function route() {
    clearTimers();
    if (!me) return;
    var hash = location.hash || '#/overview';
    var parts = hash.slice(2).split('/');
    Array.prototype.forEach.call(document.querySelectorAll('nav a'), function (a) {
      if (a.getAttribute('href') === '#/' + parts[0]) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    });
    if (parts[0] === 'users' && parts[1]) user(decodeURIComponent(parts[1]));
    else if (parts[0] === 'users') users();
    else if (parts[0] === 'clients') clients();
    else if (parts[0] === 'issuers') issuers();
    else if (parts[0] === 'events') events();
    else overview();
    $('main').focus();
  }

  window.addEventListener('hashchange', route);
  document.addEventListener('DOMContentLoaded', function () {
    api('GET', 'me').then(function (answer) {
      me = { user: answer.user, csrf: answer.csrf };
      signedIn();
      route();
    }, function () { if (!me) signIn(); });
  });
})();

