# Source: https://github.com/rauc/rauc (its manual)
# Commit: db1e1e59c60385fa884781b8ab34a77a02d9b3e5 (v1.15)
# Placeholders <...> are the manual's own.
#
# --- docs/examples.rst
rauc --cert demo.cert.pem --key demo.key.pem bundle temp-dir/ update-2015.04-1.raucb
# --- docs/using.rst
rauc bundle --cert=<certfile|certurl> --key=<keyfile|keyurl> <input-dir> <bundle-name>
rauc info --keyring=<certfile> [--output-format=<format>] <input-file>
# --- docs/advanced.rst (Resigning Bundles)
rauc resign --cert=<certfile> --key=<keyfile> --keyring=<keyring> <input-bundle> <output-bundle>
# --- docs/reference.rst (signing in a secure room)
rauc extract-signature --keyring ca.cert.pem bundle.raucb extracted-signature.cms
openssl cms -verify -CAfile ca.cert.pem -out manifest.raucm -inform DER -in extracted-signature.cms
openssl cms -sign -signer new-signer.cert.pem -CAfile new-ca-cert.pem -inkey new-signer.key.pem -nodetach -in manifest.raucm -outform der -out new-signature.cms
rauc replace-signature --keyring ca-cert.pem --signing-keyring new-ca-cert.pem bundle.raucb new-signature.cms new-bundle.raucb
