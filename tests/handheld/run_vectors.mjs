// Runs the shared handheld vectors (tests/handheld/vectors.py) through the JavaScript core and
// reports what it decided, for the Python tests to compare with what tag_tools decided. The same
// module runs in Node (`node run_vectors.mjs vectors.json out.json`) and in Chromium (imported by
// the page of tests/handheld/test_vectors_browser.py), so both engines are judged by one code path.
// It only reports; every assertion is in the Python tests.

export async function runVectors(vectors, coreBase) {
  const core = await import(`${coreBase}verifier.js`);
  const { decode } = await import(`${coreBase}cbor.js`);
  const { inflateExact } = await import(`${coreBase}inflate.js`);
  const { parseCertificate } = await import(`${coreBase}x509.js`);
  const { verifyIssuedBy } = await import(`${coreBase}certprofile.js`);
  const { fromBase64, fromHex, toHex } = await import(`${coreBase}bytes.js`);
  const { decodeMessage } = await import(`${coreBase}ndef.js`);
  const started = Date.now();

  const trust = {};
  const trustLists = {};
  for (const [name, t] of Object.entries(vectors.trustLists)) {
    try {
      const options = { maxAgeSeconds: t.maxAgeSeconds };
      trust[name] = await core.parseTrustList(fromBase64(t.b64), fromBase64(t.rootB64), new Date(t.now), options);
      trustLists[name] = { ok: true, sequence: Number(trust[name].sequence), centres: trust[name].centreCount };
    } catch (error) {
      trustLists[name] =
        error instanceof core.VerifierError
          ? { ok: false, reason: error.reason, message: error.message }
          : { ok: false, crash: String(error && error.stack) };
    }
  }

  const held = {};
  const statusLists = {};
  for (const [name, s] of Object.entries(vectors.statusLists)) {
    try {
      const options = { listId: s.listId, minSequence: s.minSequence };
      const list = await core.parseStatusList(fromBase64(s.b64), trust[s.trustList], new Date(s.now), options);
      held[name] = list;
      statusLists[name] = { ok: true, listId: list.listId, sequence: Number(list.sequence), count: list.count };
    } catch (error) {
      statusLists[name] =
        error instanceof core.VerifierError
          ? {
              ok: false,
              kind: error.kind === "stale" || error.kind === "rollback" ? error.kind : "invalid",
              reason: error.reason,
              message: error.message,
            }
          : { ok: false, crash: String(error && error.stack) };
    }
  }

  const inputsOf = (c) => ({
    uid: fromHex(c.uid),
    trust: c.trustList === null ? null : trust[c.trustList] || null,
    statusLists: new Map(c.statusLists.filter((n) => held[n]).map((n) => [held[n].listId, held[n]])),
    now: new Date(c.now),
    policy: c.policy,
  });

  const cases = [];
  for (const c of vectors.cases) {
    const message = fromBase64(c.ndefB64);
    const inputs = inputsOf(c);
    const outcome = { name: c.name };
    try {
      const v = await core.verifyTag({ ...inputs, ndefMessage: message });
      Object.assign(outcome, {
        decision: v.decision,
        reasons: v.reasons,
        statusChecked: v.statusChecked,
        signerCentreId: v.signerCentreId,
        record: pythonShape(v.record),
      });
    } catch (error) {
      outcome.crash = String(error && error.stack);
    }
    // The same tag as Web NFC would hand it to the page (records, not bytes), where that view
    // exists: a well-formed message without chunked records.
    let records = message.length ? null : [];
    try {
      if (message.length && !decodeMessage(message).some((r) => r.chunked)) records = core.webNfcRecordsOf(message);
    } catch {
      records = null; // not a well-formed message: Web NFC would deliver nothing
    }
    if (records !== null) {
      try {
        const v = await core.verifyTag({ ...inputs, records });
        outcome.webNfc = { decision: v.decision, reasons: v.reasons };
      } catch (error) {
        outcome.webNfc = { crash: String(error && error.stack) };
      }
    }
    cases.push(outcome);
  }

  const flips = [];
  for (const f of vectors.flips) {
    const base = vectors.cases.find((c) => c.name === f.base);
    const message = fromBase64(base.ndefB64);
    const inputs = inputsOf(base);
    const got = [];
    for (let position = 0; position < message.length * 8; position++) {
      const mutated = message.slice();
      mutated[position >> 3] ^= 1 << (position & 7);
      const v = await core.verifyTag({ ...inputs, ndefMessage: mutated });
      got.push(`${v.decision}:${v.reasons.join(",")}`.replace(/:$/, ""));
    }
    flips.push({ base: f.base, got });
  }

  const cbor = vectors.cbor.map((e) => {
    try {
      decode(fromHex(e.hex), e.name, e.maxSize);
      return true;
    } catch (error) {
      if (error.name !== "FormatError") return `crash: ${error.stack}`;
      return false;
    }
  });

  const zlib = [];
  for (const e of vectors.zlib) {
    try {
      const out = inflateExact(fromBase64(e.b64), e.size);
      zlib.push({ ok: true, sha256: toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", out))) });
    } catch (error) {
      zlib.push(error.name === "InflateError" ? { ok: false } : { ok: false, crash: String(error.stack) });
    }
  }

  const x509 = [];
  for (const e of vectors.x509) {
    try {
      await verifyIssuedBy(parseCertificate(fromBase64(e.certB64)), parseCertificate(fromBase64(e.issuerB64)));
      x509.push(true);
    } catch {
      x509.push(false);
    }
  }

  const serialNumbers = vectors.serialNumbers.map((s) => {
    try {
      return toHex(core.uidFromSerialNumber(s.text));
    } catch {
      return null;
    }
  });

  return {
    engine: globalThis.navigator && navigator.userAgent ? navigator.userAgent : `node ${globalThis.process && process.version}`,
    warningReasons: [...core.WARNING_REASONS].sort(),
    trustLists,
    statusLists,
    cases,
    flips,
    cbor,
    zlib,
    x509,
    serialNumbers,
    seconds: (Date.now() - started) / 1000,
  };
}

/** The record as tag_tools' CylinderRecord.to_json() writes it, to compare field by field. */
function pythonShape(r) {
  if (!r) return null;
  const out = {
    serial: r.serial,
    cylinder_id: r.cylinderId,
    manufacturer: r.manufacturer,
    kind: r.kind,
    working_pressure_dmpa: r.workingPressureDmpa,
    water_capacity_dl: r.waterCapacityDl,
    manufactured: r.manufactured,
    inspected: r.inspected,
    result: r.result,
    next_due: r.nextDue,
    end_of_life: r.endOfLife,
    plate: r.plate,
    vin: r.vin,
    vehicle_cylinders: r.vehicleCylinders,
    centre_id: r.centreId,
    report_number: r.reportNumber,
    sequence: r.sequence,
    issued_at: r.issuedAtIso,
    tag_uid: r.tagUid,
    version: r.version,
  };
  if (r.statusRef) out.status_ref = { list_id: r.statusRef.listId, index: r.statusRef.index };
  return out;
}

// Node: node run_vectors.mjs <vectors.json> <results.json>
if (globalThis.process && process.argv && process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  const fs = await import("node:fs");
  const path = await import("node:path");
  const url = await import("node:url");
  const [input, output] = process.argv.slice(2);
  const here = path.dirname(url.fileURLToPath(import.meta.url));
  const coreDir = path.resolve(here, "../../registry_service/handheld/static/core");
  const vectors = JSON.parse(fs.readFileSync(input, "utf8"));
  const results = await runVectors(vectors, `${url.pathToFileURL(coreDir).href}/`);
  fs.writeFileSync(output, JSON.stringify(results));
}
