#!/usr/bin/env python3
"""Computes test/vectors/pro-legacy.json: the legacy v0 Session Pro digests and signatures of
../shared/specs/session-pro.md §5.1, with Python's hashlib (BLAKE2b with person= and salt=) and the
`cryptography` package's Ed25519, independently of Tollgate's TypeScript. Run: python3 test/vectors/pro-legacy.py"""
import hashlib
import json
import pathlib
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def key(seed_byte):
    private = Ed25519PrivateKey.from_private_bytes(bytes([seed_byte]) * 32)
    return private, private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def digest(person, message, salt=b""):
    return hashlib.blake2b(message, digest_size=32, person=person, salt=salt).digest()


backend, backend_pk = key(0xCD)
master, master_pk = key(0x01)
rotating, rotating_pk = key(0x02)
salt = bytes(range(16))
ts = 1762407212143
apple_tx = b"2000000123456789"
google_token, google_order = b"google-token-abc", b"GPA.1234-5678-9012-34567"

gen_index_hashes = [digest(b"", struct.pack("<Q", index), salt) for index in (0, 1)]
proof = digest(b"ProProof________", b"\x00" + gen_index_hashes[0] + rotating_pk + struct.pack("<Q", 1762473600000))
add_google = digest(b"ProAddPayment___", b"\x00" + master_pk + rotating_pk + b"\x01" + google_token + google_order)
add_apple = digest(b"ProAddPayment___", b"\x00" + master_pk + rotating_pk + b"\x02" + apple_tx)
generate = digest(b"ProGenerateProof", b"\x00" + master_pk + rotating_pk + struct.pack("<Q", ts))
details = digest(b"ProGetProDetReq_", b"\x00" + master_pk + struct.pack("<Q", ts) + struct.pack("<I", 10))
refund = digest(
    b"ProSetRefundReq_", b"\x00" + master_pk + struct.pack("<Q", ts) + struct.pack("<Q", ts + 1000) + b"\x02" + apple_tx
)

vectors = {
    "about": "Legacy v0 Session Pro vectors (spec §5.1 inputs), computed by test/vectors/pro-legacy.py with Python hashlib and cryptography, not by Tollgate.",
    "backend_seed": (b"\xcd" * 32).hex(),
    "backend_pubkey": backend_pk.hex(),
    "master_seed": (b"\x01" * 32).hex(),
    "master_pubkey": master_pk.hex(),
    "rotating_seed": (b"\x02" * 32).hex(),
    "rotating_pubkey": rotating_pk.hex(),
    "gen_index_salt": salt.hex(),
    "gen_index_hashes": [{"gen_index": index, "hash": value.hex()} for index, value in enumerate(gen_index_hashes)],
    "proof": {"expiry_unix_ts_ms": 1762473600000, "gen_index": 0, "hash": proof.hex(), "sig": backend.sign(proof).hex()},
    "add_pro_payment_google": {
        "google_payment_token": google_token.decode(),
        "google_order_id": google_order.decode(),
        "hash": add_google.hex(),
        "master_sig": master.sign(add_google).hex(),
        "rotating_sig": rotating.sign(add_google).hex(),
    },
    "add_pro_payment_apple": {"apple_tx_id": apple_tx.decode(), "hash": add_apple.hex()},
    "generate_pro_proof": {
        "unix_ts_ms": ts,
        "hash": generate.hex(),
        "master_sig": master.sign(generate).hex(),
        "rotating_sig": rotating.sign(generate).hex(),
    },
    "get_pro_details": {"unix_ts_ms": ts, "count": 10, "hash": details.hex(), "master_sig": master.sign(details).hex()},
    "set_payment_refund_requested_apple": {
        "unix_ts_ms": ts,
        "refund_requested_unix_ts_ms": ts + 1000,
        "apple_tx_id": apple_tx.decode(),
        "hash": refund.hex(),
    },
    "google_obfuscated_account_id": hashlib.sha256(master_pk).hexdigest(),
}
path = pathlib.Path(__file__).with_name("pro-legacy.json")
path.write_text(json.dumps(vectors, indent="\t") + "\n")
