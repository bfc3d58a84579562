"""Reading what Finesse sends a desk (runnable:
``python docs/examples/finesse_reading.py``).

A UCCE consult alert reaches Agent B's desk as an XMPP ``<Update>``: a POST
of the consult dialog to B's dialog collection. The desk parses it, tells a
consult from an ordinary call, finds the customer's number in the call data
(not in ``fromAddress``, which is Agent A's extension) and names the leg with
the ``<extension>:<agentId>:<dialogId>`` string its CIM messages carry.
"""

from __future__ import annotations

from consultfsm.desk import CustomerNumberSource, consult_platform
from consultfsm.wire.finesse import FinesseParseError, parse_update
from consultfsm.wire.legref import LegRef, parse_leg_ref

ALERT = """<Update>
  <data><dialogs><Dialog>
    <associatedDialogUri>/finesse/api/Dialog/16777300</associatedDialogUri>
    <fromAddress>7001</fromAddress>
    <id>16777301</id>
    <mediaProperties>
      <DNIS>7002</DNIS><callType>AGENT_INSIDE</callType><dialedNumber>7002</dialedNumber>
      <callvariables>
        <CallVariable><name>callVariable1</name><value>+923001234567:3000</value></CallVariable>
      </callvariables>
    </mediaProperties>
    <mediaType>Voice</mediaType>
    <participants>
      <Participant>
        <actions><action>DROP</action></actions>
        <mediaAddress>7001</mediaAddress><mediaAddressType>AGENT_DEVICE</mediaAddressType>
        <startTime>2026-12-01T10:00:00.000Z</startTime><state>INITIATED</state>
        <stateCause></stateCause><stateChangeTime>2026-12-01T10:00:00.000Z</stateChangeTime>
      </Participant>
      <Participant>
        <actions><action>ANSWER</action></actions>
        <mediaAddress>7002</mediaAddress><mediaAddressType>AGENT_DEVICE</mediaAddressType>
        <startTime>2026-12-01T10:00:00.120Z</startTime><state>ALERTING</state>
        <stateCause></stateCause><stateChangeTime>2026-12-01T10:00:00.120Z</stateChangeTime>
      </Participant>
    </participants>
    <state>ALERTING</state>
    <toAddress>7002</toAddress>
    <uri>/finesse/api/Dialog/16777301</uri>
  </Dialog></dialogs></data>
  <event>POST</event>
  <requestId></requestId>
  <source>/finesse/api/User/1002/Dialogs</source>
</Update>"""

update = parse_update(ALERT)
(dialog,) = update.dialogs
me = dialog.participant("7002")
assert me is not None
print(f"{update.event.value} to user {update.user_id}: dialog {dialog.id} {dialog.state.value}")
print(f"  consult on {consult_platform(dialog)}, of the customer's dialog "
      f"{dialog.associated_dialog_id}")  # fmt: skip
print(f"  B's participant: {me.state.value}, may {', '.join(me.actions)}")
print(f"  customer {CustomerNumberSource().read(dialog)} (fromAddress {dialog.from_address} is A)")
leg = LegRef(extension="7002", agent_id=update.user_id or "", dialog_id=dialog.id)
print(f"  leg string {leg}, read back: {parse_leg_ref(str(leg)) == leg}")

try:
    parse_update('<!DOCTYPE x [<!ENTITY a "aaaa">]><Update>&a;</Update>')
except FinesseParseError as e:
    print(f"refused: {e}")
