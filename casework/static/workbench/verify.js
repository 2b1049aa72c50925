// Verifies in the reader's browser that a custody event is in the log, from the API's answers
// alone and with WebCrypto only (SHA-256, Ed25519): nothing the page's server rendered is trusted.
//
//  1. the log's public key: a C2SP signed-note vkey, name+hex(key id)+base64(0x01 || key), whose
//     key id is SHA-256(name || "\n" || 0x01 || key)[:4];
//  2. the checkpoint: a C2SP tlog-checkpoint (origin, size, base64 root) in a signed note, whose
//     line "— <name> base64(key id || signature)" by the log's key verifies over the text;
//  3. the event's leaf: leaf form v2 (casework_verify/leaf.py): the event without seq and salts,
//     each identifying value replaced by {"sha256": hex SHA-256(salt || value)}, in canonical JSON
//     (RFC 8785 without floats: sorted keys, no whitespace), hashed as SHA-256(0x00 || bytes);
//  4. the RFC 9162 inclusion proof from that leaf to the signed root (0x01 node prefix);
//  5. witness cosignatures (C2SP tlog-cosignature/v1) under the keys the server is configured with.
// Each check is reported in words as it passes; the first that fails stops and is named.
"use strict";

(function () {
  var root = document.querySelector("[data-verify]");
  if (!root) {
    return;
  }
  var messages = JSON.parse(root.dataset.messages);
  var witnessKeys = JSON.parse(root.dataset.witnessKeys || "[]");
  var seq = Number(root.dataset.seq);
  var summary = root.querySelector("[data-summary]");
  var checks = root.querySelector("[data-checks]");
  var encoder = new TextEncoder();
  var SIGNATURE_PREFIX = "\u2014 ";
  var COMMITTED_PATHS = ["actor_id", "actor_username", "client_addr", "details.claimed_username",
    "details.recipient.name", "details.recipient.organisation"];

  function say(key, values) {
    var text = messages[key];
    Object.keys(values || {}).forEach(function (name) {
      text = text.split("%(" + name + ")s").join(String(values[name]));
    });
    return text;
  }

  function Failed(text) {
    this.text = text;
  }

  function report(passed, text) {
    var item = document.createElement("li");
    var badge = document.createElement("span");
    badge.className = "badge " + (passed ? "badge-ok" : "badge-danger");
    badge.textContent = passed ? messages.passed : messages.failed;
    item.append(badge, " ", text);
    item.dataset.check = passed ? "passed" : "failed";
    checks.append(item);
  }

  function check(ok, passText, failText) {
    if (!ok) {
      report(false, failText);
      throw new Failed(failText);
    }
    report(true, passText);
  }

  // A condition that is no finding of its own: named only when it fails.
  function require(ok, failText) {
    if (!ok) {
      report(false, failText);
      throw new Failed(failText);
    }
  }

  // outcome: "verified", "failed", or null while the checks run.
  function announce(outcome, text) {
    summary.className = "alert verify-summary" + (outcome ? (outcome === "verified" ? " alert-success" : " alert-error") : "");
    if (outcome) {
      summary.dataset.outcome = outcome;
    }
    summary.replaceChildren();
    var paragraph = document.createElement("p");
    paragraph.textContent = text;
    summary.append(paragraph);
  }

  // --- bytes ------------------------------------------------------------------------------

  function concat() {
    var parts = Array.prototype.slice.call(arguments);
    var out = new Uint8Array(parts.reduce(function (n, p) { return n + p.length; }, 0));
    var at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }

  function hex(bytes) {
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function fromHex(text) {
    if (typeof text !== "string" || !/^(?:[0-9a-f]{2})*$/.test(text)) {
      return null;
    }
    var out = new Uint8Array(text.length / 2);
    for (var i = 0; i < out.length; i++) {
      out[i] = parseInt(text.substr(i * 2, 2), 16);
    }
    return out;
  }

  // Strict standard base64: padded and canonical, as the verifier package reads it.
  function fromBase64(text) {
    var binary;
    try {
      binary = atob(text);
    } catch (error) {
      return null;
    }
    var out = Uint8Array.from(binary, function (c) { return c.charCodeAt(0); });
    return btoa(binary) === text ? out : null;
  }

  function equal(a, b) {
    return a.length === b.length && a.every(function (x, i) { return x === b[i]; });
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  async function ed25519Verify(publicKey, signature, message) {
    var key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  }

  // --- the API ----------------------------------------------------------------------------

  async function fetched(url, what, json) {
    var response = await fetch(url, { credentials: "same-origin", headers: { Accept: json ? "application/json" : "text/plain" } });
    if (!response.ok) {
      var text = say("fetch_failed", { what: messages[what], status: response.status });
      report(false, text);
      throw new Failed(text);
    }
    return json ? response.json() : response.text();
  }

  // --- signed notes (C2SP signed-note, tlog-checkpoint, tlog-cosignature) ---------------------

  function validName(name) {
    return name.length > 0 && name.indexOf("+") < 0 && !/\s/.test(name);
  }

  // name+hash+base64(type || key): the base64 may itself hold "+", so split at the first two only.
  async function parseKey(vkey, type) {
    var text = vkey.trim();
    var first = text.indexOf("+");
    var second = text.indexOf("+", first + 1);
    if (first < 0 || second < 0) {
      return null;
    }
    var name = text.slice(0, first);
    var keyHash = text.slice(first + 1, second);
    var raw = fromBase64(text.slice(second + 1));
    if (!validName(name) || !/^[0-9a-f]{8}$/.test(keyHash) || !raw || raw.length !== 33 || raw[0] !== type) {
      return null;
    }
    var publicKey = raw.slice(1);
    var keyId = (await sha256(concat(encoder.encode(name + "\n"), new Uint8Array([type]), publicKey))).slice(0, 4);
    return hex(keyId) === keyHash ? { name: name, keyId: keyId, publicKey: publicKey } : null;
  }

  function parseNote(note) {
    var split = note.lastIndexOf("\n\n");
    if (split < 0 || /[\x00-\x09\x0b-\x1f]/.test(note)) {
      return null;
    }
    var text = note.slice(0, split + 1);
    var block = note.slice(split + 2);
    if (!block.endsWith("\n")) {
      return null;
    }
    var signatures = [];
    var lines = block.slice(0, -1).split("\n");
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i];
      if (!line.startsWith(SIGNATURE_PREFIX)) {
        return null;
      }
      var rest = line.slice(SIGNATURE_PREFIX.length);
      var space = rest.indexOf(" ");
      var raw = space > 0 ? fromBase64(rest.slice(space + 1)) : null;
      if (!raw || raw.length < 5 || !validName(rest.slice(0, space))) {
        return null;
      }
      signatures.push({ name: rest.slice(0, space), raw: raw });
    }
    var body = text.slice(0, -1).split("\n");
    if (body.length < 3 || !body[0] || !/^(?:0|[1-9][0-9]*)$/.test(body[1])) {
      return null;
    }
    var rootHash = fromBase64(body[2]);
    if (!rootHash || rootHash.length !== 32) {
      return null;
    }
    return { text: text, origin: body[0], size: Number(body[1]), root: rootHash, signatures: signatures };
  }

  function signedBy(signature, key) {
    return signature.name === key.name && equal(signature.raw.slice(0, 4), key.keyId);
  }

  // --- the leaf (leaf form v2, canonical JSON) ----------------------------------------------

  // RFC 8785 for JSON without floats: JavaScript's default sort compares UTF-16 code units, as
  // JCS orders keys, and JSON.stringify escapes strings exactly as JCS does.
  function canonical(value) {
    if (value === null || typeof value === "boolean" || typeof value === "string") {
      return JSON.stringify(value);
    }
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) {
        throw new Failed(messages.leaf_unreadable);
      }
      return String(value);
    }
    if (Array.isArray(value)) {
      return "[" + value.map(canonical).join(",") + "]";
    }
    return "{" + Object.keys(value).sort().map(function (key) {
      return JSON.stringify(key) + ":" + canonical(value[key]);
    }).join(",") + "}";
  }

  function isObject(value) {
    return typeof value === "object" && value !== null && !Array.isArray(value);
  }

  function getPath(entry, path) {
    var node = entry;
    var parts = path.split(".");
    for (var i = 0; i < parts.length; i++) {
      if (!isObject(node) || !Object.prototype.hasOwnProperty.call(node, parts[i])) {
        return null;
      }
      node = node[parts[i]];
    }
    return node;
  }

  function setPath(entry, path, value) {
    var parts = path.split(".");
    var node = entry;
    for (var i = 0; i < parts.length - 1; i++) {
      node = node[parts[i]];
    }
    node[parts[parts.length - 1]] = value;
  }

  function isCommitted(value) {
    return isObject(value) && Object.keys(value).length === 1 && "sha256" in value;
  }

  async function leafBytes(event) {
    var form = JSON.parse(JSON.stringify(event));
    delete form.leaf_hash;
    if (form.v === 1) {  // before leaf form v2: the entry hashes itself, seq included
      delete form.v;
      delete form.salts;
      return encoder.encode(canonical(form));
    }
    if (form.v !== 2) {
      throw new Failed(messages.leaf_unreadable);
    }
    var salts = isObject(form.salts) ? form.salts : {};
    delete form.seq;
    delete form.salts;
    for (var i = 0; i < COMMITTED_PATHS.length; i++) {
      var path = COMMITTED_PATHS[i];
      var value = getPath(form, path);
      if (value === null || value === undefined || isCommitted(value)) {
        continue;
      }
      var salt = fromHex(salts[path]);
      if ((typeof value !== "string" && !Number.isSafeInteger(value)) || !salt || salt.length !== 32) {
        throw new Failed(messages.leaf_unreadable);
      }
      setPath(form, path, { sha256: hex(await sha256(concat(salt, encoder.encode(String(value))))) });
    }
    return encoder.encode(canonical(form));
  }

  // --- RFC 9162 2.1.3.2 -----------------------------------------------------------------------

  async function nodeHash(left, right) {
    return sha256(concat(new Uint8Array([1]), left, right));
  }

  async function verifyInclusion(leaf, index, size, proof, rootHash) {
    if (!(index >= 0 && index < size) || proof.some(function (p) { return !p || p.length !== 32; })) {
      return false;
    }
    var fn = BigInt(index);
    var sn = BigInt(size) - 1n;
    var r = leaf;
    for (var i = 0; i < proof.length; i++) {
      if (sn === 0n) {
        return false;
      }
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(proof[i], r);
        while (fn !== 0n && (fn & 1n) === 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = await nodeHash(r, proof[i]);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    return sn === 0n && equal(r, rootHash);
  }

  // --- tlog-cosignature/v1 ---------------------------------------------------------------------

  async function checkCosignatures(checkpoint, logKey) {
    var others = checkpoint.signatures.filter(function (s) { return !signedBy(s, logKey); });
    var trusted = [];
    for (var i = 0; i < witnessKeys.length; i++) {
      var key = await parseKey(witnessKeys[i], 0x04);
      if (key) {
        trusted.push(key);
      }
    }
    var verified = [];
    var unchecked = [];
    for (var j = 0; j < others.length; j++) {
      var line = others[j];
      var witness = trusted.find(function (k) { return signedBy(line, k); });
      if (!witness) {
        unchecked.push(line.name);
        continue;
      }
      var ok = line.raw.length === 76;
      if (ok) {
        var time = new DataView(line.raw.buffer, line.raw.byteOffset + 4, 8).getBigUint64(0);
        var message = encoder.encode("cosignature/v1\ntime " + time.toString() + "\n" + checkpoint.text);
        ok = await ed25519Verify(witness.publicKey, line.raw.slice(12), message);
      }
      require(ok, say("cosigned_bad", { name: line.name }));
      verified.push(line.name);
    }
    if (verified.length) {
      report(true, say("cosigned_ok", { count: verified.length, names: verified.join(", ") }));
    }
    if (unchecked.length) {
      report(true, say("cosigned_unchecked", { count: unchecked.length, names: unchecked.join(", ") }));
    }
    if (!others.length) {
      report(true, messages.cosigned_none);
    }
    return verified.length;
  }

  // --- the whole check ---------------------------------------------------------------------------

  async function verify() {
    announce(null, say("checking", { seq: seq }));
    if (!window.crypto || !crypto.subtle) {
      throw new Failed(messages.no_crypto);
    }
    var answers = await Promise.all([
      fetched(root.dataset.eventUrl, "what_event", true),
      fetched(root.dataset.keyUrl, "what_key", false),
      fetched(root.dataset.checkpointUrl, "what_checkpoint", false),
    ]);
    var event = answers[0];
    require(event.seq === seq, messages.event_mismatch);

    var logKey = await parseKey(answers[1], 0x01);
    check(logKey !== null, say("key_ok", logKey ? { name: logKey.name, id: hex(logKey.keyId) } : {}), messages.key_bad);

    var checkpoint = parseNote(answers[2]);
    require(checkpoint !== null, messages.note_bad);
    var own = checkpoint.signatures.filter(function (s) { return signedBy(s, logKey); });
    var signed = false;
    try {
      signed = own.length === 1 && own[0].raw.length === 68 &&
        await ed25519Verify(logKey.publicKey, own[0].raw.slice(4), encoder.encode(checkpoint.text));
    } catch (error) {
      throw new Failed(messages.no_crypto);
    }
    var rootHex = hex(checkpoint.root);
    check(signed, say("signature_ok", { origin: checkpoint.origin, size: checkpoint.size, root: rootHex }),
      messages.signature_bad);
    require(seq < checkpoint.size, say("not_covered", { seq: seq, size: checkpoint.size }));

    var leaf = await sha256(concat(new Uint8Array([0]), await leafBytes(event)));
    check(hex(leaf) === event.leaf_hash, say("leaf_ok", { v: event.v, hash: hex(leaf) }),
      say("leaf_bad", { computed: hex(leaf), stored: event.leaf_hash }));

    var query = "?seq=" + seq + "&tree_size=" + checkpoint.size;
    var inclusion = await fetched(root.dataset.proofUrl + query, "what_proof", true);
    var proof = (inclusion.proof || []).map(fromHex);
    var included = inclusion.seq === seq && inclusion.tree_size === checkpoint.size &&
      await verifyInclusion(leaf, seq, checkpoint.size, proof, checkpoint.root);
    check(included, say("proof_ok", { count: proof.length, seq: seq }), messages.proof_bad);

    var cosigners = await checkCosignatures(checkpoint, logKey);
    var words = say("summary_ok", { seq: seq, size: checkpoint.size, root: rootHex, key: logKey.name + "+" + hex(logKey.keyId) });
    words += " " + (cosigners ? say("summary_witnesses", { count: cosigners }) : messages.summary_no_witnesses);
    announce("verified", words);
  }

  verify().catch(function (error) {
    var reason = error instanceof Failed ? error.text : say("unexpected", { error: String(error) });
    announce("failed", say("summary_failed", { reason: reason }));
  });
})();
