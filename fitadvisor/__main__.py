from fitadvisor.cli import main

main()
