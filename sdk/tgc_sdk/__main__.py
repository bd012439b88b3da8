from tgc_sdk.cli import main
main()
