"""tgc-sdk: scaffold tgc backend plugins (`tgc-sdk new-backend`), run the conformance suite against them (`tgc-sdk
conformance`), prove their declared caps (`tgc-sdk validate`), certify them (`tgc-sdk certify`) and keep the registry of
certification records (`tgc-sdk registry verify|index`). The suite itself is a pytest plugin in tgc_sdk.suite."""
__version__ = "0.1.0"
