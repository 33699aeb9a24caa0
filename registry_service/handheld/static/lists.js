// The documents tags are verified against, fetched through the service worker (which keeps the last
// good copy for offline use) and verified here by the core: the trust list against the pinned root,
// each status list against the trust list's status signers. Nothing is trusted for having been
// cached: every load verifies again, at the phone's time.

import { parseStatusList, parseTrustList } from "./core/verifier.js";

const BASE = "/verify/";

class FetchError extends Error {}

async function fetchDocument(path) {
  const response = await fetch(BASE + path, { credentials: "same-origin" });
  if (!response.ok) throw new FetchError(`${path}: ${response.status}`);
  const stored = response.headers.get("X-Handheld-Stored-At");
  return {
    bytes: new Uint8Array(await response.arrayBuffer()),
    fromCache: response.headers.get("X-Handheld-From-Cache") === "1",
    storedAt: stored ? new Date(stored) : new Date(),
  };
}

/**
 * Everything the page verifies with:
 *   trust        the parsed trust list, or null
 *   trustError   a reason code when the trust list does not verify ("trust_list_not_authentic")
 *   missing      true when no trust list or root could be had at all (never online yet)
 *   statusLists  Map(list id -> parsed status list)
 *   statusErrors [{id}] lists that are expired or do not verify (their tags: "status unknown")
 *   fromCache    true when any of it came from the phone's copy rather than the registry
 *   storedAt     when the trust list was fetched from the registry
 */
export async function loadLists(now = new Date()) {
  const state = { trust: null, trustError: null, missing: false, statusLists: new Map(), statusErrors: [], fromCache: false, storedAt: null };
  let root;
  let trustList;
  try {
    [root, trustList] = await Promise.all([fetchDocument("root.der"), fetchDocument("trust-list")]);
  } catch {
    state.missing = true;
    return state;
  }
  state.fromCache = root.fromCache || trustList.fromCache;
  state.storedAt = trustList.storedAt;
  try {
    state.trust = await parseTrustList(trustList.bytes, root.bytes, now);
  } catch (error) {
    state.trustError = error?.reason ?? "trust_list_not_authentic";
    return state;
  }
  let index = { lists: [] };
  try {
    const document = await fetchDocument("status-lists");
    index = JSON.parse(new TextDecoder().decode(document.bytes));
  } catch {
    // no index: no status list is held, every tag reads "status unknown"
  }
  for (const { id } of index.lists ?? []) {
    try {
      const document = await fetchDocument(`status-lists/${Number(id)}`);
      state.fromCache ||= document.fromCache;
      // listId: a registry cannot answer for one list with another (parse_status_list's rule).
      const list = await parseStatusList(document.bytes, state.trust, now, { listId: Number(id) });
      state.statusLists.set(list.listId, list);
    } catch (error) {
      state.statusErrors.push({ id: Number(id), reason: error?.reason ?? "unusable" });
    }
  }
  return state;
}

/** The reason texts of `locale` (the catalogue's, as the registry serves them), or {} offline without a copy. */
export async function loadReasonTexts(locale) {
  try {
    const document = await fetchDocument(`reasons/${encodeURIComponent(locale)}.json`);
    return JSON.parse(new TextDecoder().decode(document.bytes)).reasons ?? {};
  } catch {
    return {};
  }
}
