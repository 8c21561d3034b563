"""Messages the callbacks print (Keras's io_utils.print_msg)."""
import sys


def print_msg(message):
    sys.stdout.write(message + "\n")
    sys.stdout.flush()
