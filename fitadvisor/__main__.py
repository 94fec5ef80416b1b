from fitadvisor.launch import main

main()
