"""The controller: campaigns as jobflow flows on the LaunchPad, rounds added from each round's results."""
