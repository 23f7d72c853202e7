"""Authentication primitives: password hashing, secret tokens, the acting principal."""
