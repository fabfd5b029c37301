// The device's copy of the diary: IndexedDB stores for the refresh token and sync cursor
// (kv), the records the changes feed brought (records), writes not yet uploaded (outbox)
// and uploads the server refused (conflicts). Keys are "<type>:<id>".

const DB_NAME = 'paindiary';
const DB_VERSION = 1;
const STORES = ['kv', 'records', 'outbox', 'conflicts'];

let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        for (const name of STORES) {
          if (!db.objectStoreNames.contains(name)) {
            db.createObjectStore(name, name === 'kv' ? undefined : { keyPath: 'key' });
          }
        }
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opening;
}

async function transaction(names, mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(names, mode);
    let result;
    const request = work(tx);
    if (request) request.onsuccess = () => { result = request.result; };
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export const kvGet = (key) => transaction('kv', 'readonly', (tx) => tx.objectStore('kv').get(key));
export const kvSet = (key, value) =>
  transaction('kv', 'readwrite', (tx) => tx.objectStore('kv').put(value, key));
export const kvDelete = (key) =>
  transaction('kv', 'readwrite', (tx) => tx.objectStore('kv').delete(key));

export const get = (store, key) =>
  transaction(store, 'readonly', (tx) => tx.objectStore(store).get(key));
export const put = (store, value) =>
  transaction(store, 'readwrite', (tx) => tx.objectStore(store).put(value));
export const remove = (store, key) =>
  transaction(store, 'readwrite', (tx) => tx.objectStore(store).delete(key));
export const all = (store) =>
  transaction(store, 'readonly', (tx) => tx.objectStore(store).getAll());
export const count = (store) =>
  transaction(store, 'readonly', (tx) => tx.objectStore(store).count());

/** Several writes in one transaction: `work(stores)` gets the named object stores. */
export const write = (names, work) =>
  transaction(names, 'readwrite', (tx) => {
    work(Object.fromEntries(names.map((name) => [name, tx.objectStore(name)])));
  });

/** Forgets everything this device holds (sign-out, or another account signing in). */
export const clearAll = () =>
  transaction(STORES, 'readwrite', (tx) => {
    for (const name of STORES) tx.objectStore(name).clear();
  });
