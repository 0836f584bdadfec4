from hullcheck.cli.main import main

main()
