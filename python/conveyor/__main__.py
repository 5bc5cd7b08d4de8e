from conveyor._cli import main

main()
