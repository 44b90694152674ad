// The outbox and the patrol pack, shared by the pages (app.js) and the service worker (sw.js).
// The outbox keeps, in IndexedDB, what a form would have sent (its fields and its photos as blobs)
// until the server has confirmed the submission and every photo of it. It sends exactly what the
// plain form sends, to the same address, asking for JSON; photos follow one by one, named by their
// SHA-256, so a resend is a no-op on the server. No DOM here: this file also runs in the worker.
(function (global) {
  "use strict";

  var DB_NAME = "patrol";
  var PACK_PREFIX = "patrol-pack-";
  var PACK_MAX_AGE_MS = 60 * 60 * 1000;
  var TIMEOUT_MS = 30000;
  var channel = typeof BroadcastChannel !== "undefined" ? new BroadcastChannel("patrol") : null;

  // ---- IndexedDB: store "outbox" (items by id = client_uuid) and "meta" (pack, session) ----
  var dbPromise = null;
  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = function () {
          request.result.createObjectStore("outbox", { keyPath: "id" });
          request.result.createObjectStore("meta");
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { dbPromise = null; reject(request.error); };
      });
    }
    return dbPromise;
  }

  function run(store, mode, operation) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(store, mode);
        var request = operation(tx.objectStore(store));
        tx.oncomplete = function () { resolve(request && request.result); };
        tx.onerror = tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  var Outbox = {
    all: function () {
      return run("outbox", "readonly", function (s) { return s.getAll(); }).then(function (items) {
        return items.sort(function (a, b) { return a.createdAt < b.createdAt ? -1 : 1; });
      });
    },
    count: function () { return run("outbox", "readonly", function (s) { return s.count(); }); },
    get: function (id) { return run("outbox", "readonly", function (s) { return s.get(id); }); },
    put: function (item) { return run("outbox", "readwrite", function (s) { return s.put(item); }).then(changed); },
    remove: function (id) { return run("outbox", "readwrite", function (s) { return s.delete(id); }).then(changed); },
    meta: function (key) { return run("meta", "readonly", function (s) { return s.get(key); }); },
    setMeta: function (key, value) { return run("meta", "readwrite", function (s) { return s.put(value, key); }); },
  };

  function changed() {
    if (channel) channel.postMessage("changed");
    if (global.dispatchEvent && typeof CustomEvent !== "undefined") {
      global.dispatchEvent(new CustomEvent("patrol-outbox-changed"));
    }
  }

  // ---- talking to the server ----
  function request(url, options) {
    var controller = typeof AbortController !== "undefined" ? new AbortController() : null;
    var timer = controller && setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    options.credentials = "same-origin";
    options.signal = controller && controller.signal;
    options.headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    return fetch(url, options).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; },
        // Not JSON: a proxy, a captive portal, a server that fell over. Worth another try later.
        function () { return { status: response.status >= 500 ? response.status : 502, data: {} }; });
    }, function (error) {
      return { status: 0, data: {} };  // no connection (the browser's wording is not the user's language)
    }).finally(function () { if (timer) clearTimeout(timer); });
  }

  // What the outbox does after an answer: done, try again later, log in, refresh the token, or ask the guard.
  function verdict(answer) {
    var s = answer.status;
    if (s === 200 || s === 201) return "ok";
    if (s === 401) return "login";
    if (s === 400 && answer.data.code === "csrf") return "csrf";
    if (s === 0 || s >= 500 || s === 408 || s === 429) return "retry";
    return "flag";
  }

  function session() {
    return request("/outbox/session", { method: "GET" }).then(function (answer) {
      if (answer.status === 200) {
        return Outbox.setMeta("user", { id: answer.data.user, name: answer.data.name }).then(function () {
          return { ok: true, data: answer.data };
        });
      }
      return { ok: false, verdict: verdict(answer), answer: answer };
    });
  }

  function sha256Name(field) { return field.replace(/^photo/, "photo_sha256"); }

  function submit(item, token) {
    var body = new FormData();
    item.fields.forEach(function (pair) { if (pair[0] !== "csrf_token") body.append(pair[0], pair[1]); });
    body.append("csrf_token", token);
    item.photos.forEach(function (photo) { body.append(sha256Name(photo.field), photo.sha256); });
    return request(item.url, { method: "POST", body: body, headers: { "X-CSRFToken": token } });
  }

  function sendPhoto(item, photo, token) {
    return request(item.photosUrl + photo.sha256, {
      method: "PUT", body: photo.blob,
      headers: { "X-CSRFToken": token, "Content-Type": photo.blob.type || "application/octet-stream" },
    });
  }

  // The server's own message (already in the user's language), or else which kind of failure it was,
  // for the page to put into words: "offline", "server" or "missing-photo".
  function problem(answer, kind) {
    var message = (answer.data || {}).error || "";
    return { message: message, kind: message ? "" : kind || (answer.status === 0 ? "offline" : "server") };
  }

  // Send one item as far as it goes; resolves to "sent", "retry", "login", "csrf", "flag" or "other-user".
  function sendItem(item, sess) {
    if (item.user !== sess.user) {
      return note(item, "other-user", null).then(function () { return "other-user"; });
    }
    item.attempts = (item.attempts || 0) + 1;
    item.lastAttempt = new Date().toISOString();
    var step = item.sent ? Promise.resolve("ok") : submit(item, sess.csrf_token).then(function (answer) {
      var v = verdict(answer);
      if (v !== "ok") return settle(item, v, answer);
      item.sent = true;
      item.created = answer.status === 201;
      item.photosUrl = answer.data.photos_url;
      item.doneUrl = answer.data.done_url;
      item.missing = answer.data.missing_photos || [];
      return Outbox.put(item).then(function () { return "ok"; });
    });
    return step.then(function (v) { return v === "ok" ? sendPhotos(item, sess) : v; });
  }

  var doneUrls = {};  // where the confirmation of each item sent from this page is shown

  function sendPhotos(item, sess) {
    if (!item.missing.length) {
      doneUrls[item.id] = item.doneUrl;
      return Outbox.remove(item.id).then(function () { return "sent"; });
    }
    var sha = item.missing[0];
    var photo = item.photos.filter(function (p) { return p.sha256 === sha; })[0];
    if (!photo) {
      return settle(item, "flag", { status: 409, data: {} }, "missing-photo");
    }
    return sendPhoto(item, photo, sess.csrf_token).then(function (answer) {
      var v = verdict(answer);
      if (v !== "ok") return settle(item, v, answer);
      item.missing = answer.data.missing_photos || [];
      return Outbox.put(item).then(function () { return sendPhotos(item, sess); });
    });
  }

  function note(item, state, trouble, fields) {
    item.state = state;
    item.error = trouble ? trouble.message : "";
    item.errorKind = trouble ? trouble.kind : "";
    item.fields_errors = fields || null;
    return Outbox.put(item);
  }

  function settle(item, v, answer, kind) {
    var state = v === "flag" ? "flagged" : v === "login" ? "login" : "waiting";
    return note(item, state, problem(answer, kind), answer.data && answer.data.fields).then(function () { return v; });
  }

  function withLock(name, wait, task) {
    if (typeof navigator !== "undefined" && navigator.locks) {
      return navigator.locks.request(name, { ifAvailable: !wait }, function (lock) {
        return lock ? task() : "busy";
      });
    }
    return task();
  }

  // Send what waits (flagged items only when asked by id). Stops at the first sign that the
  // connection or the server is down: the rest would fail the same way.
  function sendAll(onlyId) {
    return withLock("patrol-outbox", !!onlyId, function () {
      return Outbox.all().then(function (items) {
        items = items.filter(function (i) { return onlyId ? i.id === onlyId : i.state !== "flagged"; });
        if (!items.length) return "empty";
        return session().then(function (sess) {
          if (!sess.ok) {
            if (sess.verdict !== "login") return sess.verdict;
            return Promise.all(items.map(function (i) { return note(i, "login", null); })).then(function () { return "login"; });
          }
          return sendEach(items, sess.data, false);
        });
      });
    });
  }

  function sendEach(items, sess, retriedToken) {
    if (!items.length) return Promise.resolve("done");
    return sendItem(items[0], sess).then(function (v) {
      if (v === "csrf" && !retriedToken) {
        return session().then(function (fresh) { return fresh.ok ? sendEach(items, fresh.data, true) : fresh.verdict; });
      }
      if (v === "retry" || v === "login" || v === "csrf") return v;
      return sendEach(items.slice(1), sess, false);
    });
  }

  // ---- the patrol pack: the pages a round needs, kept in a cache named by the server's version ----
  function refreshPack(force) {
    return withLock("patrol-pack", false, function () {
      return request("/outbox/pack", { method: "GET" }).then(function (answer) {
        if (answer.status !== 200) return null;
        var pack = answer.data;
        return Outbox.meta("pack").then(function (meta) {
          var fresh = meta && meta.version === pack.version && Date.now() - meta.refreshedAt < PACK_MAX_AGE_MS;
          return fresh && !force ? meta : download(pack);
        });
      });
    });
  }

  function download(pack) {
    var name = PACK_PREFIX + pack.version;
    var total = 0;
    var stored = 0;
    return caches.open(name).then(function (cache) {
      var queue = pack.urls.slice();
      function worker() {
        var url = queue.shift();
        if (url === undefined) return Promise.resolve();
        return fetch(url, { credentials: "same-origin" }).then(function (response) {
          if (!response.ok || response.redirected) return null;
          return response.clone().blob().then(function (blob) {
            total += blob.size;
            stored += 1;
            return cache.put(url, response);
          });
        }).catch(function () { return null; }).then(worker);
      }
      return Promise.all([worker(), worker(), worker(), worker()]);
    }).then(function () {
      if (stored < pack.urls.length) return null;  // keep the old pack rather than a partial new one
      var meta = { version: pack.version, refreshedAt: Date.now(), bytes: total, pages: stored };
      return Outbox.setMeta("pack", meta).then(function () { return dropPacks(name); }).then(function () {
        if (channel) channel.postMessage("pack");
        return meta;
      });
    });
  }

  function dropPacks(keep) {
    return caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n.indexOf(PACK_PREFIX) === 0 && n !== keep; })
        .map(function (n) { return caches.delete(n); }));
    });
  }

  function forgetPack() {
    return dropPacks(null).then(function () { return Outbox.setMeta("pack", null); });
  }

  global.PatrolOutbox = {
    store: Outbox, sendAll: sendAll, doneUrl: function (id) { return doneUrls[id]; }, refreshPack: refreshPack, forgetPack: forgetPack, channel: channel,
    PACK_PREFIX: PACK_PREFIX,
  };
})(self);
