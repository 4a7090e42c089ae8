// A local certificate authority for sidecar-to-sidecar mTLS. Created on first start (ECDSA P-256) in a
// directory shared by the sidecars of one host, or taken from given files; each sidecar gets a short-lived
// leaf certificate carrying its SPIFFE id as a URI SAN, usable as both TLS server and client.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spiffeId, type Identity } from "./spiffe.js";

x509.cryptoProvider.set(globalThis.crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 24 * 3600 * 1000;

export interface TlsMaterial {
  /** PEM of this sidecar's certificate (leaf). */
  cert: string;
  /** PEM PKCS#8 private key of the leaf. */
  key: string;
  /** PEM of the trust anchors peers' certificates must chain to. */
  ca: string;
}

export interface GivenCertFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** Loads the CA from caDir, creating it if absent (safe when several sidecars start at once). */
export async function loadOrCreateCa(caDir: string): Promise<{ cert: x509.X509Certificate; key: CryptoKey; pem: string }> {
  mkdirSync(caDir, { recursive: true, mode: 0o700 });
  const certPath = join(caDir, "ca.crt");
  const keyPath = join(caDir, "ca.key");
  if (!existsSync(certPath) || !existsSync(keyPath)) await createCa(caDir, certPath, keyPath);
  const pem = readFileSync(certPath, "utf8");
  const cert = new x509.X509Certificate(pem);
  const keyDer = x509.PemConverter.decodeFirst(readFileSync(keyPath, "utf8"));
  const key = await crypto.subtle.importKey("pkcs8", keyDer, ALG, false, ["sign"]);
  return { cert, key, pem };
}

async function createCa(caDir: string, certPath: string, keyPath: string): Promise<void> {
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: "CN=rapr local CA, O=rapr",
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 10 * 365 * DAY_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const keyPem = x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
  // Write both into one temp dir, then claim ca.key with link(): exactly one racing sidecar wins.
  const tmp = join(caDir, `.new-${process.pid}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(tmp, { mode: 0o700 });
  try {
    writeFileSync(join(tmp, "ca.key"), keyPem, { mode: 0o600 });
    writeFileSync(join(tmp, "ca.crt"), cert.toString("pem"), { mode: 0o644 });
    const claim = join(caDir, "ca.claim");
    try {
      linkSync(join(tmp, "ca.crt"), claim); // stays: the CA is made once per directory
    } catch {
      // Another sidecar created it or is creating it right now; wait for it (bounded).
      for (let i = 0; i < 300 && !(existsSync(certPath) && existsSync(keyPath)); i++) await Bun.sleep(10);
      if (!existsSync(certPath) || !existsSync(keyPath)) {
        throw new Error(`CA directory ${caDir} has ${claim} but no ca.crt/ca.key; remove ${claim} to create a new CA`);
      }
      return;
    }
    linkSync(join(tmp, "ca.key"), keyPath);
    linkSync(join(tmp, "ca.crt"), certPath);
    chmodSync(keyPath, 0o600);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Issues a leaf certificate for one app id, signed by the CA, valid for validDays. */
export async function issueLeaf(
  ca: { cert: x509.X509Certificate; key: CryptoKey; pem: string },
  id: Identity,
  validDays = 7,
): Promise<TlsMaterial> {
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${id.appId}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + validDays * DAY_MS),
    signingKey: ca.key,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: "url", value: spiffeId(id) },
        { type: "dns", value: "localhost" },
        { type: "dns", value: `${id.appId}.${id.namespace}` },
        { type: "ip", value: "127.0.0.1" },
      ]),
    ],
  });
  const key = x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
  return { cert: cert.toString("pem"), key, ca: ca.pem };
}

export function loadGivenCerts(files: GivenCertFiles): TlsMaterial {
  return {
    cert: readFileSync(files.certFile, "utf8"),
    key: readFileSync(files.keyFile, "utf8"),
    ca: readFileSync(files.caFile, "utf8"),
  };
}

function randomSerial(): string {
  const b = crypto.getRandomValues(new Uint8Array(12));
  b[0]! &= 0x7f;
  return Buffer.from(b).toString("hex");
}
