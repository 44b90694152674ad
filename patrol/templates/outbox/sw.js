// patrol's service worker {{ version }}: keeps the app shell, serves the patrol pack offline,
// and sends the outbox through Background Sync where the browser has it.
"use strict";
importScripts("{{ url_for('static', filename='outbox.js') }}");

var SHELL_CACHE = "patrol-shell-{{ version }}";
var SHELL = {{ shell|tojson }};
var OFFLINE_REPORT = "{{ url_for('scan.report', offline='1') }}";
var OUTBOX_PAGE = "{{ url_for('outbox.index') }}";
var NAVIGATION_TIMEOUT_MS = 6000;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL_CACHE).then(function (cache) { return cache.addAll(SHELL); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("patrol-shell-") === 0 && name !== SHELL_CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (SHELL.indexOf(url.pathname) !== -1) {
    event.respondWith(caches.match(request, { cacheName: SHELL_CACHE }).then(function (hit) {
      return hit || fetch(request);
    }));
  } else if (request.mode === "navigate") {
    event.respondWith(navigate(request, url));
  } else if (url.pathname.indexOf("/photos/") === 0) {
    event.respondWith(fetch(request).catch(function () { return cached(url.pathname); }));
  }
});

// Pages come from the server when it answers in time, else from the pack; a label the pack does not
// know opens the offline report form, anything else the outbox page.
function navigate(request, url) {
  var network = fetch(request);
  var timeout = new Promise(function (resolve, reject) {
    setTimeout(function () { reject(new Error("timeout")); }, NAVIGATION_TIMEOUT_MS);
  });
  return Promise.race([network, timeout]).catch(function () {
    return cached(url.pathname + url.search).then(function (hit) {
      if (hit) return offlineCopy(hit);
      var fallback = url.pathname.indexOf("/p/") === 0 ? OFFLINE_REPORT : OUTBOX_PAGE;
      return cached(fallback).then(function (page) { return page ? offlineCopy(page) : network; });
    });
  });
}

// Marks a page served from the pack, so that it says it is a saved copy and from when.
function offlineCopy(response) {
  var headers = new Headers(response.headers);
  headers.delete("Content-Length");
  return response.text().then(function (html) {
    return new Response(html.replace("<html ", "<html data-offline-copy "), {
      status: response.status, statusText: response.statusText, headers: headers,
    });
  });
}

function cached(path) {
  return caches.keys().then(function (names) {
    var packs = names.filter(function (name) { return name.indexOf(PatrolOutbox.PACK_PREFIX) === 0; });
    return packs.reduce(function (found, name) {
      return found.then(function (hit) {
        return hit || caches.open(name).then(function (cache) { return cache.match(path); });
      });
    }, Promise.resolve(undefined));
  });
}

self.addEventListener("message", function (event) {
  var kind = event.data && event.data.type;
  if (kind === "refresh-pack") event.waitUntil(PatrolOutbox.refreshPack(!!event.data.force));
  if (kind === "send") event.waitUntil(PatrolOutbox.sendAll());
  if (kind === "forget-pack") event.waitUntil(PatrolOutbox.forgetPack());
});

self.addEventListener("sync", function (event) {
  if (event.tag === "outbox") {
    event.waitUntil(PatrolOutbox.sendAll().then(function (result) {
      // Tell the browser to try again later if the network or the server was not there.
      if (result === "retry") throw new Error("outbox: try again later");
    }));
  }
});
