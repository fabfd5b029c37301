// The service worker keeps the app shell (the files below) for offline use. It answers only
// requests for /app/ files; it never sees or caches /v1/ API responses (patient data stays
// in the page's IndexedDB, under the app's control).
const VERSION = 'paindiary-shell-v1';
const SHELL = [
  '/app/',
  '/app/index.html',
  '/app/app.css',
  '/app/manifest.webmanifest',
  '/app/icons/icon-192.png',
  '/app/icons/icon-512.png',
  '/app/icons/icon-maskable-512.png',
  '/app/js/app.js',
  '/app/js/api.js',
  '/app/js/dom.js',
  '/app/js/store.js',
  '/app/js/strings.js',
  '/app/js/sync.js',
  '/app/js/views/auth.js',
  '/app/js/views/clinician.js',
  '/app/js/views/conflicts.js',
  '/app/js/views/courses.js',
  '/app/js/views/diary.js',
  '/app/js/views/share.js',
  '/app/js/views/summary.js',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(VERSION)
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: 'no-cache' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== VERSION).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

// Network first (the shell is revalidated by ETag, so a deploy shows at the next load),
// the cached copy when the network fails.
async function shell(request) {
  const cache = await caches.open(VERSION);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(request, { ignoreSearch: true })
      ?? (request.mode === 'navigate' ? await cache.match('/app/') : undefined);
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith('/app/')) return; // the API is never the worker's business
  event.respondWith(shell(event.request));
});
