from tapcompare.cli import main

main()
