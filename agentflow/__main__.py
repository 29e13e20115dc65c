from agentflow.cli.app import main

main()
