// The handheld verifier's service worker (scope /verify/). The registry prepends
// `self.HANDHELD = {version, shell, locales}` when it serves this file (registry_service/handheld/pages.py).
//
// - The app shell (the page in every language, its scripts, the verifier core, style, icons) is
//   cached at install under a name carrying the version: a changed app is a new worker, which
//   fetches the new shell and deletes the old one.
// - The documents (bureau root, trust list, status lists, reason texts) are fetched from the
//   network first and kept in a cache of their own that outlives app versions; offline, or when the
//   network does not answer within NETWORK_WAIT_MS (or answers with a server error), the kept copy is served, marked with
//   X-Handheld-From-Cache. Every copy carries X-Handheld-Stored-At (when it was fetched), so the
//   page can say how old its lists are. The page verifies them again on every load: the cache is
//   only a copy.
// - Pages are network first too (a fresh page when online), the kept copy offline.
// - Everything else (the officer's uploads, other paths) goes to the network untouched.

const { version: VERSION, shell: SHELL, locales: LOCALES } = self.HANDHELD;
const SHELL_CACHE = `handheld-shell-${VERSION}`;
const DATA_CACHE = "handheld-data-v1";
const SCOPE = "/verify/";
const DATA = /^\/verify\/(root\.der|trust-list|status-lists(\/\d+)?|reasons\/[A-Za-z_-]+\.json)$/;
const NETWORK_WAIT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      await cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload", credentials: "same-origin" })));
      await keepDocuments().catch(() => undefined); // the page fetches them again anyway
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("handheld-shell-") && name !== SHELL_CACHE) await caches.delete(name);
      }
      await self.clients.claim(); // the page that installed us is served offline without a reload
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith(SCOPE)) return;
  if (url.pathname === `${SCOPE}sw.js`) return;
  if (request.mode === "navigate") {
    event.respondWith(networkFirst(request, SHELL_CACHE));
  } else if (DATA.test(url.pathname) && !url.search) {
    event.respondWith(networkFirst(request, DATA_CACHE));
  } else {
    event.respondWith(cacheFirst(request));
  }
});

/** Every document the page verifies with, fetched and kept now (at install). */
async function keepDocuments() {
  const paths = ["root.der", "trust-list", "status-lists", ...LOCALES.map((code) => `reasons/${code}.json`)];
  await Promise.all(paths.map((path) => fetchAndKeep(new Request(SCOPE + path), DATA_CACHE).catch(() => undefined)));
  const index = await caches.match(`${SCOPE}status-lists`, { cacheName: DATA_CACHE });
  const lists = index ? (await index.json()).lists ?? [] : [];
  await Promise.all(lists.map(({ id }) => fetchAndKeep(new Request(`${SCOPE}status-lists/${Number(id)}`), DATA_CACHE)));
}

/** The network's answer; a good one is kept (stamped with when it was fetched) and returned stamped. */
async function fetchAndKeep(request, cacheName) {
  const response = await fetch(request);
  if (!response.ok || response.type === "opaqueredirect") return response;
  const headers = new Headers(response.headers);
  headers.set("X-Handheld-Stored-At", new Date().toISOString());
  const body = await response.arrayBuffer();
  const stamped = new Response(body, { status: response.status, statusText: response.statusText, headers });
  const cache = await caches.open(cacheName);
  await cache.put(request.url, stamped.clone());
  return stamped;
}

function marked(response) {
  const headers = new Headers(response.headers);
  headers.set("X-Handheld-From-Cache", "1");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

function within(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("slow network")), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

async function networkFirst(request, cacheName) {
  const network = fetchAndKeep(request, cacheName);
  network.catch(() => undefined); // answered from the cache below: a late failure is nobody's business
  let answer = null;
  try {
    answer = await within(network, NETWORK_WAIT_MS);
    if (answer.status < 500) return answer;
  } catch {
    // no network, or too slow: the kept copy below
  }
  const kept = await caches.match(request.url, { cacheName, ignoreVary: true });
  if (kept) return marked(kept); // also for a 5xx: a proxy's or captive portal's error page is no answer
  return answer ?? network; // nothing kept: the network's answer (or its failure) after all
}

async function cacheFirst(request) {
  const kept = await caches.match(request, { ignoreVary: true });
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) {
    const cache = await caches.open(SHELL_CACHE);
    await cache.put(request, response.clone());
  }
  return response;
}
