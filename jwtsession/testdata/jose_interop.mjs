// Interop peer for jwtsession's Modern profile: npm's jose (v5) under Node.js.
// Reads one JSON object on stdin, writes one JSON object on stdout.
//
//   verify: {token, hmac_key (base64url) | jwks, rsa_private_pem, outer_algs, key_algs, enc_algs}
//           -> {outer_header, inner_header, claims}
//           Verifies the outer JWS (HMAC key, or the key of the JWKS whose kid the header
//           names), then decrypts the inner JWE with the RSA private key.
//   issue:  {hmac_key | signing_private_pem, rsa_public_pem, claims, outer_header, inner_header}
//           -> {token}
import * as jose from 'jose';

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const req = JSON.parse(Buffer.concat(chunks).toString());
const cmd = process.argv[2];
const dec = (s) => JSON.parse(Buffer.from(s.split('.')[0], 'base64url').toString());

let out;
if (cmd === 'verify') {
  const key = req.jwks ? jose.createLocalJWKSet(req.jwks) : Buffer.from(req.hmac_key, 'base64url');
  const { payload } = await jose.compactVerify(req.token, key, { algorithms: req.outer_algs });
  const inner = new TextDecoder().decode(payload);
  const ih = dec(inner);
  const priv = await jose.importPKCS8(req.rsa_private_pem, ih.alg);
  const { plaintext } = await jose.compactDecrypt(inner, priv, {
    keyManagementAlgorithms: req.key_algs,
    contentEncryptionAlgorithms: req.enc_algs,
  });
  out = { outer_header: dec(req.token), inner_header: ih, claims: JSON.parse(new TextDecoder().decode(plaintext)) };
} else if (cmd === 'issue') {
  const ih = req.inner_header;
  const oh = req.outer_header;
  const pub = await jose.importSPKI(req.rsa_public_pem, ih.alg);
  const inner = await new jose.CompactEncrypt(new TextEncoder().encode(JSON.stringify(req.claims)))
    .setProtectedHeader(ih)
    .encrypt(pub);
  const skey = req.hmac_key ? Buffer.from(req.hmac_key, 'base64url') : await jose.importPKCS8(req.signing_private_pem, oh.alg);
  const token = await new jose.CompactSign(new TextEncoder().encode(inner)).setProtectedHeader(oh).sign(skey);
  out = { token };
} else {
  throw new Error('unknown command ' + cmd);
}
process.stdout.write(JSON.stringify(out));
