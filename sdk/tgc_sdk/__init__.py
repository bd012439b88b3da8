"""tgc-sdk: scaffold tgc backend plugins (`tgc-sdk new-backend`) and run the conformance suite against them
(`tgc-sdk conformance`). The suite itself is a pytest plugin in tgc_sdk.suite."""
__version__ = "0.1.0"
