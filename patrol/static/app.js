// Progressive enhancement only: every form works without this file. With it, check and report forms
// go through the outbox (outbox.js), so a lost connection never loses a submission.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var Outbox = window.PatrolOutbox;
  var MAX_SIDE = 1600;

  function isoWithOffset(date) {
    var pad = function (n) { return String(Math.abs(n)).padStart(2, "0"); };
    var offset = -date.getTimezoneOffset();
    var sign = offset >= 0 ? "+" : "-";
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) +
      sign + pad(Math.floor(Math.abs(offset) / 60)) + ":" + pad(Math.abs(offset) % 60);
  }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, key) { return key in values ? values[key] : all; });
  }

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // The check records the phone's clock at submit time, with its UTC offset.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-check-form]")) return;
    var field = form.querySelector("[data-observed-at]");
    if (field && !field.value) field.value = isoWithOffset(new Date());
  }, true);

  // A failed item needs its note (and its photo where the checklist says so) before it can be sent:
  // said by the browser at once, rather than by the server after a round in the basement.
  document.addEventListener("change", function (event) {
    var radio = event.target;
    if (!radio.matches("[data-check-form] input[type=radio]")) return;
    var item = radio.closest(".item");
    var failed = radio.value === "fail" && radio.checked;
    item.querySelector("textarea").required = failed;
    var photo = item.querySelector("input[type=file][data-photo-required]");
    if (photo) photo.required = failed && !item.querySelector("input[name^=kept-]");
  });

  // ---- photos: made smaller on the phone, named by their SHA-256 ----
  function downscale(file) {
    if (!window.createImageBitmap) return Promise.resolve(file);
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", 0.85);
      });
    }, function () { return file; });  // not an image the phone can read: the server will say so
  }

  function sha256(blob) {
    return blob.arrayBuffer().then(function (bytes) {
      if (window.crypto && crypto.subtle) return crypto.subtle.digest("SHA-256", bytes);
      return window.PatrolSha256(bytes);
    }).then(function (digest) {
      return Array.prototype.map.call(new Uint8Array(digest), function (x) {
        return (x + 0x100).toString(16).slice(1);
      }).join("");
    });
  }

  function buildItem(form) {
    var data = new FormData(form);
    var fields = [];
    var files = [];
    data.forEach(function (value, name) {
      if (typeof value === "string") fields.push([name, value]);
      else if (value.size) files.push({ field: name, file: value });
    });
    return Promise.all(files.map(function (entry) {
      return downscale(entry.file).then(function (blob) {
        return sha256(blob).then(function (hash) { return { field: entry.field, sha256: hash, blob: blob }; });
      });
    })).then(function (photos) {
      return {
        id: form.querySelector("[name=client_uuid]").value,
        url: form.getAttribute("action"),
        title: form.dataset.title || document.title,
        user: Number(root.dataset.user),
        createdAt: new Date().toISOString(),
        fields: fields, photos: photos, state: "waiting", error: "", attempts: 0, sent: false,
      };
    });
  }

  function showErrors(form, item) {
    var fields = item.fields_errors || {};
    form.querySelectorAll("[data-error-for]").forEach(function (p) {
      var message = fields[p.dataset.errorFor];
      p.textContent = message || "";
      p.hidden = !message;
    });
    var top = form.querySelector("[data-form-error]");
    top.textContent = item.error || form.dataset.textRefused;
    top.hidden = false;
    top.scrollIntoView();
  }

  // Kept first, sent second: what the guard typed is on the phone before the network is tried.
  function submitThroughOutbox(event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-outbox]") || !Outbox || !window.indexedDB) return;
    event.preventDefault();
    var button = form.querySelector("[type=submit]");
    if (button.disabled) return;
    button.disabled = true;
    buildItem(form).then(function (item) {
      return Outbox.store.put(item).then(function () { return Outbox.sendAll(item.id); }).then(function () {
        return Outbox.store.get(item.id);
      }).then(function (left) {
        if (!left) return location.assign(Outbox.doneUrl(item.id) || "/outbox");
        if (left.sent && left.doneUrl && !left.missing.length) return location.assign(left.doneUrl);
        if (left.state === "login") return location.assign("/login?next=/outbox");
        if (left.state === "flagged" && left.sent) return location.assign("/outbox");
        if (left.state === "flagged") {
          // Refused as the plain form would be: show why beside the fields, keep what was typed.
          showErrors(form, left);
          form.querySelector("[name=client_uuid]").value = uuid4();
          button.disabled = false;
          return Outbox.store.remove(left.id);
        }
        form.hidden = true;
        document.querySelector("[data-queued]").hidden = false;
        requestBackgroundSync();
      });
    }).catch(function () {
      button.disabled = false;  // IndexedDB refused (private mode, full): the plain form still works
      form.removeAttribute("data-outbox");
      form.submit();
    });
  }
  document.addEventListener("submit", submitThroughOutbox);

  // Each opening of a form (also from the pack) is a new submission.
  function freshIds() {
    document.querySelectorAll("[data-outbox] [name=client_uuid]").forEach(function (input) {
      input.value = uuid4();
    });
    var label = document.querySelector("[data-offline-report] [data-label]");
    var match = location.pathname.match(/^\/p\/([^/]+)$/);
    if (label && match) label.value = match[1];
  }

  // ---- the badge and the outbox page ----
  // Redrawn at most every quarter second: a round of fifty items changes the outbox hundreds of times.
  var renderTimer = null;
  function render() {
    if (!Outbox || renderTimer) return;
    renderTimer = setTimeout(function () { renderTimer = null; draw(); }, 250);
  }

  function draw() {
    var page = document.querySelector("[data-outbox-page]");
    var items = page ? Outbox.store.all() : Promise.resolve(null);
    Promise.all([Outbox.store.count(), items]).then(function (found) {
      var badge = document.querySelector("[data-outbox-badge]");
      if (badge) {
        badge.hidden = !found[0];
        badge.querySelector("[data-outbox-count]").textContent = found[0];
      }
      if (page) renderPage(page, found[1]);
    });
  }

  function stateText(page, item) {
    if (item.sent) return fill(page.dataset.textPhotos, { n: item.missing.length });
    var key = { login: "textLogin", "other-user": "textOtherUser", flagged: "textFlagged" }[item.state];
    return page.dataset[key || "textWaiting"];
  }

  function renderPage(page, items) {
    var list = page.querySelector("[data-outbox-items]");
    list.querySelectorAll("img").forEach(function (img) { URL.revokeObjectURL(img.src); });
    list.textContent = "";
    page.querySelector("[data-outbox-empty]").hidden = items.length > 0;
    page.querySelector("[data-send-all]").hidden = !items.length;
    var template = document.getElementById("outbox-item");
    items.forEach(function (item) {
      var row = template.content.firstElementChild.cloneNode(true);
      row.dataset.id = item.id;
      row.dataset.state = item.state;
      row.querySelector("[data-title]").textContent = item.title;
      var time = row.querySelector("[data-time]");
      time.dateTime = item.createdAt;
      time.textContent = new Date(item.createdAt).toLocaleString();
      row.querySelector("[data-state]").textContent = stateText(page, item);
      var error = row.querySelector("[data-error]");
      var details = Object.values(item.fields_errors || {}).join(" ");
      var kind = { offline: "textErrorOffline", server: "textErrorServer", "missing-photo": "textErrorMissingPhoto" };
      error.textContent = [item.error || page.dataset[kind[item.errorKind]], details].filter(Boolean).join(" — ");
      error.hidden = !error.textContent;
      item.photos.forEach(function (photo) {
        var img = document.createElement("img");
        img.src = URL.createObjectURL(photo.blob);
        img.alt = "";
        row.querySelector("[data-thumbs]").appendChild(img);
      });
      row.querySelector("[data-send]").addEventListener("click", function () { sendNow(item.id); });
      row.querySelector("[data-delete]").addEventListener("click", function () {
        if (window.confirm(page.dataset.textConfirm)) Outbox.store.remove(item.id);
      });
      list.appendChild(row);
    });
    showPack(page);
  }

  function showPack(page) {
    var status = page.querySelector("[data-pack-status]");
    if (!("serviceWorker" in navigator)) {
      status.textContent = page.dataset.textNoWorker;
      return;
    }
    Outbox.store.meta("pack").then(function (meta) {
      status.textContent = meta ? fill(page.dataset.textPack, {
        pages: meta.pages, size: (meta.bytes / 1024).toFixed(0),
        time: new Date(meta.refreshedAt).toLocaleString(),
      }) : page.dataset.textNoPack;
    });
  }

  function sendNow(id) {
    return Outbox.sendAll(id).then(render);
  }

  // ---- service worker, pack, and when to send ----
  function worker(message) {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.active) registration.active.postMessage(message);
    });
  }

  function requestBackgroundSync() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.sync) return registration.sync.register("outbox");
    }).catch(function () { /* no Background Sync here: the page sends on reconnect and on a timer */ });
  }

  function sendWaiting() {
    if (Outbox && navigator.onLine !== false) Outbox.sendAll().then(render, render);
  }

  function showOfflineCopy() {
    var note = document.querySelector("[data-offline-note]");
    if (!note || !root.hasAttribute("data-offline-copy")) return;
    note.textContent = fill(note.textContent, { time: new Date(root.dataset.rendered).toLocaleString() });
    note.hidden = false;
  }

  function start() {
    freshIds();
    showOfflineCopy();
    if (!Outbox) return;
    render();
    if (Outbox.channel) Outbox.channel.addEventListener("message", render);
    window.addEventListener("patrol-outbox-changed", render);
    var loggedIn = !!root.dataset.user;
    if ("serviceWorker" in navigator && loggedIn) {
      navigator.serviceWorker.register("/sw.js").catch(function () { /* no offline pages, outbox still works */ });
      if (navigator.onLine !== false && !root.hasAttribute("data-offline-copy")) worker({ type: "refresh-pack" });
    }
    window.addEventListener("online", sendWaiting);
    if (loggedIn) {
      sendWaiting();
      setInterval(sendWaiting, Math.max(1, Number(root.dataset.retry) || 30) * 1000);
    }
    document.querySelectorAll("[data-send-all]").forEach(function (b) { b.addEventListener("click", function () {
      Outbox.sendAll().then(render, render);
    }); });
    document.querySelectorAll("[data-refresh-pack]").forEach(function (b) { b.addEventListener("click", function () {
      worker({ type: "refresh-pack", force: true });
    }); });
    // A shared phone: the next user must not find this user's pages. The outbox stays.
    document.querySelectorAll("[data-logout]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.caches) return;
        event.preventDefault();
        Outbox.forgetPack().finally(function () { form.submit(); });
      });
    });
  }

  // SHA-256 for pages served over plain HTTP, where browsers withhold crypto.subtle.
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);

  window.PatrolSha256 = function (buffer) {
    var bytes = new Uint8Array(buffer);
    var length = bytes.length;
    var padded = new Uint8Array(((length + 9 + 63) >> 6) << 6);
    padded.set(bytes);
    padded[length] = 0x80;
    var view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(length / 0x20000000));
    view.setUint32(padded.length - 4, (length << 3) >>> 0);
    var h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    var w = new Uint32Array(64);
    var rotr = function (x, n) { return (x >>> n) | (x << (32 - n)); };
    for (var offset = 0; offset < padded.length; offset += 64) {
      for (var i = 0; i < 16; i++) w[i] = view.getUint32(offset + i * 4);
      for (i = 16; i < 64; i++) {
        var s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        var s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (i = 0; i < 64; i++) {
        var t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
        var t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
        k = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
    }
    var out = new DataView(new ArrayBuffer(32));
    for (i = 0; i < 8; i++) out.setUint32(i * 4, h[i]);
    return out.buffer;
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
